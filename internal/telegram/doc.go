// Package telegram is the bot's Bot API client: telego aimed at
// TELEGRAM_API_URL with a Caller of our own that retries, rate-limits,
// redacts the token and reports failures through the typed telemetry.
//
// Guarantees:
//   - a 429 is retried after its retry_after, a 5xx or a transport failure
//     after an exponential backoff, as long as the total wait stays within
//     Config.MaxRetryWait and the context's deadline (and, except for
//     answerCallbackQuery, within Config.RetryAttempts: a callback's user
//     waits on a spinner, so its answer gets the whole wait budget); any
//     other failure (and a retry budget spent) ends the call with an
//     *APIError and one TELEGRAM_API_ERROR event (method, status,
//     retry_after);
//   - message-sending methods (send*, edit*, copy*, forward*) pass a limiter
//     that keeps the bot within Telegram's published limits: about 30
//     messages a second overall, about one a second per private chat and
//     twenty a minute per group, with short bursts; a busy bot waits instead
//     of drawing 429s. answerCallbackQuery is not a message and is not
//     limited;
//   - the bot token never reaches an error text or a log line: every error
//     this package returns is built from redacted text, and telego's own
//     logger is replaced by one that writes nothing;
//   - each callback query is answered at most once per context made by
//     TrackAnswers, whichever code path answers it, and Answered reports
//     whether it was.
//
// Not guaranteed: a message call that failed with a transport error after
// Telegram received it may, once retried, be delivered twice (the Bot API
// has no idempotency key). The limiter is per process: several instances
// sharing one token share Telegram's limits but not the limiter.
package telegram
