// Package router matches updates to the bot's handlers and wraps every
// dispatch in the middleware the contract asks for: telemetry
// (*_RECEIVED, *_ROUTED), admin checks (FORBIDDEN), panic recovery
// (HANDLER_PANIC), deadlines (HANDLER_TIMEOUT) and the silence guard. It
// also owns the callback-data codec (Data, ParseData).
//
// Matching: commands by name ("/start", "/start@bot" when the bot's
// username matches or is unknown), callback queries by the action of their
// data, plain text by the user's current screen (read through
// ScreenReader), and text nobody expects by the fallback. Messages are
// those of message and business_message updates. In groups only what is
// addressed to the bot is matched ("/start@bot", a reply to its message);
// the rest of a group's talk is not the bot's business (see Handle).
//
// Updates arrive decoded once (update.Update): what telego could not
// decode of them (u.Incomplete) is missing, the rest is routed as usual.
// Replies (Ctx.Reply) and edits (Ctx.Edit) go where the update came from:
// its chat, its forum topic, its business connection (Ctx.Target).
//
// Guarantees, for callback queries:
//   - every callback is answered exactly once per dispatch: a handler
//     answers through Ctx (a second answer is refused), and when a
//     callback ends with no ACCEPTED/REJECTED event or with no
//     answerCallbackQuery, the guard logs SILENCE_WARNING and answers it.
//     That includes data that no route matches (UNKNOWN_ACTION), handlers
//     that panic (HANDLER_PANIC) and handlers that outlive the context's
//     deadline (HANDLER_TIMEOUT): the answer is made with a fresh, bounded
//     context that keeps the update's identity;
//   - data that the codec refuses ends in CALLBACK_REJECTED with
//     CALLBACK_PARSE_ERROR and an answer, before any handler runs;
//   - a handler's refusal by fencing (lease.ErrFenced) is logged as the
//     update's REJECTED event with PASSIVE_REJECT and is NOT answered: the
//     update stays in the stream and the ACTIVE instance answers it.
//
// Handle returns nil for every outcome the user was told about; it returns
// an error (ErrHandlerPanic, ErrHandlerTimeout, a fenced refusal or the
// handler's own error) only when the dispatch is worth recording as failed
// or redelivering. An update of a type no route takes returns nil without
// a Telegram call.
//
// Not guaranteed: a handler that ignores its context keeps running after
// HANDLER_TIMEOUT (Go cannot stop it); whatever it does afterwards is not
// waited for, and its late answer is refused. Routes are registered before
// the first Handle and never after.
package router
