// Package botproxy is the fenced Bot API proxy of forward mode (CONTRACT
// §7): a bot in any language points its Bot API root at the dispatcher, and
// GET|POST /bot<TOKEN>/<method> (and /file/bot<TOKEN>/<path>) is forwarded
// to TELEGRAM_API_URL with Telegram's status and body returned unchanged.
//
// What it guarantees:
//   - The token in the path is compared in constant time with BOT_TOKEN
//     (401 in Telegram's error shape otherwise). It is never logged: events
//     name the method only.
//   - Query string, JSON, form and multipart bodies are passed through as
//     the bot wrote them (the same bytes, the same Content-Type). A
//     multipart body (file uploads) is read once into a temporary file while
//     its fields are parsed, never held in memory; JSON and form bodies up to
//     MaxBody are.
//   - Fencing: a call naming a chat (chat_id in the query, JSON, form or a
//     multipart field), or the callback_query_id / inline_query_id of an
//     update this instance delivered, whose shard this instance does not lead
//     at that moment, is not forwarded: 409 with Conflict's exact body, and the
//     update's REJECTED event with reason_code=PASSIVE_REJECT. While the
//     update of that chat or query is still being delivered, "leads" means
//     holds the lease under the delivery's own fencing token, so a frozen
//     leader's late calls are refused even if it won the lease back since.
//   - Rate limits and retries: message methods (send*, edit*, copy*,
//     forward*) wait for the per-chat and global limiter of internal/telegram
//     (the same limits as the built-in bot). A 429 is retried after its
//     retry_after as long as the waits stay within MaxRetryWait (Telegram did
//     not execute a call it answered 429, so the retry cannot duplicate it),
//     and the limiter is paused for the chat either way. A 5xx is returned to
//     the bot unchanged and not retried: the call may have been executed, and
//     only the bot can tell whether repeating it is safe. A Telegram that
//     cannot be reached is answered 502 in Telegram's shape.
//   - Events: BOT_API_CALL for every call, UI_RENDER (button_ids: the
//     callback_data of the inline keyboard) for a sent or edited message with
//     one, ANSWER_CALLBACK_QUERY for answerCallbackQuery, each with the cid of
//     the update being delivered for that chat or query.
//
// What it cannot do: fence a bot that calls api.telegram.org directly, or
// a chat named by @username (its shard is unknown: such calls pass through).
package botproxy
