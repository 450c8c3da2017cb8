// A small grammY bot, run by the e2e tests (e2e/grammy_test.go) as the
// upstream of one dispatcher instance in forward mode. It is a plain grammY
// webhook bot: webhookCallback on node's http server, its Bot API root set
// to its dispatcher (apiRoot), an inline menu with callbacks. Beside the
// webhook it serves what the test reads and drives:
//
//   POST /_configure {"apiRoot": URL}  builds the bot (the dispatcher's
//                                      address is known only once it runs)
//   GET  /_state                       deliveries received, API calls made
//   POST /_release                     lets the "slow" handlers go on
//   GET  anything else                 200 (the dispatcher's readiness probe)
//
// Environment: BOT_TOKEN, UPSTREAM_SECRET (checked by grammY as Telegram's
// secret_token), PORT (0: any). It prints "listening HOST:PORT" once bound.
"use strict";
const http = require("node:http");
const { Bot, InlineKeyboard, webhookCallback } = require("grammy");

const token = process.env.BOT_TOKEN;
const secret = process.env.UPSTREAM_SECRET || undefined;
const deliveries = []; // {update_id, chat, text, data, cid, delivery, token, t}
const calls = []; // {method, ok, error_code, description, t}
let handle = null;
let releaseSlow;
const released = new Promise((resolve) => (releaseSlow = resolve));
const now = () => performance.timeOrigin + performance.now();

function build(apiRoot) {
  const bot = new Bot(token, {
    botInfo: {
      id: 123456, is_bot: true, first_name: "E2E", username: "dispatcher_bot",
      can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false,
    },
    // sendMessage made with ctx (the "reply" handler) goes back as the
    // webhook reply; every other call goes to apiRoot, the dispatcher
    client: { apiRoot, canUseWebhookReply: (method) => method === "sendMessage" },
  });
  bot.api.config.use(async (prev, method, payload, signal) => {
    try {
      const res = await prev(method, payload, signal);
      calls.push({ method, ok: res.ok, error_code: res.error_code, description: res.description, t: now() });
      return res;
    } catch (err) {
      calls.push({ method, ok: false, description: String(err), t: now() });
      throw err;
    }
  });
  const menu = new InlineKeyboard().text("A", "menu:a").text("B", "menu:b").row().text("Silent", "silent");
  bot.command("start", (ctx) => bot.api.sendMessage(ctx.chat.id, "Menu", { reply_markup: menu }));
  bot.callbackQuery(/^menu:/, async (ctx) => {
    await ctx.answerCallbackQuery({ text: "picked " + ctx.callbackQuery.data });
    await ctx.editMessageText("Picked " + ctx.callbackQuery.data, {
      reply_markup: new InlineKeyboard().text("Back", "back"),
    });
  });
  bot.callbackQuery("silent", () => {}); // never answered: the dispatcher's guard answers it
  bot.hears("fail", () => {
    throw new Error("the bot failed on purpose");
  });
  bot.hears("reply", (ctx) => ctx.reply("echo: webhook reply"));
  bot.hears("slow", async (ctx) => {
    await released;
    try {
      await bot.api.sendMessage(ctx.chat.id, "late answer");
    } catch (_) {
      // recorded by the transformer above (a 409 from a fenced dispatcher)
    }
  });
  bot.on("message", () => {}); // the ordering test's messages
  return webhookCallback(bot, "callback", { secretToken: secret, timeoutMilliseconds: 60000 });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c)).once("end", () => resolve(Buffer.concat(chunks).toString("utf-8"))).once("error", reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/_configure") {
      const { apiRoot } = JSON.parse(await readBody(req));
      handle = build(apiRoot);
      return json(res, 200, { ok: true });
    }
    if (req.url === "/_state") return json(res, 200, { deliveries, calls });
    if (req.method === "POST" && req.url === "/_release") {
      releaseSlow();
      return json(res, 200, { ok: true });
    }
    if (req.method !== "POST") return json(res, 200, { ok: true });
    if (handle === null) return json(res, 503, { error: "not configured yet" });
    const raw = await readBody(req);
    const update = JSON.parse(raw);
    const msg = update.message || (update.callback_query && update.callback_query.message) || {};
    deliveries.push({
      update_id: update.update_id,
      chat: msg.chat ? msg.chat.id : 0,
      text: update.message ? update.message.text : undefined,
      data: update.callback_query ? update.callback_query.data : undefined,
      cid: req.headers["x-dispatcher-cid"],
      delivery: Number(req.headers["x-dispatcher-delivery"]),
      token: Number(req.headers["x-dispatcher-token"]),
      t: now(),
    });
    let replied = false;
    await handle(
      update,
      (body) => {
        replied = true;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(body);
      },
      req.headers["x-telegram-bot-api-secret-token"],
      () => {
        replied = true;
        json(res, 401, "secret token is wrong");
      },
    );
    if (!replied) res.end();
  } catch (err) {
    if (!res.headersSent) json(res, 500, { error: String(err) });
    else res.end();
  }
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  const a = server.address();
  console.log("listening " + a.address + ":" + a.port);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
