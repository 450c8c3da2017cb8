// Package menubot is the reference bot of CONTRACT §6, the bot
// `dispatcher serve` runs: the menu flow (MAIN_MENU → MODEL_PICK →
// PARAM_INPUT → CONFIRM → MAIN_MENU with a job queued), the /debug panel
// for admins, and the catalog of categories and models it offers. It is
// an example of the public API: it imports only the module's public
// packages (dispatcher, fsm, callback) and its own ui registry. Every
// step logs its chain through dispatcher.Router and the Context's events.
//
// Run it as any bot: b, _ := menubot.New(menubot.Options{}) and
// dispatcher.New(cfg, b); FromConfig reads CATALOG_FILE.
//
// Guarantees:
//   - the user's state lives in Redis (package fsm, through Context.Commit) and every transition is
//     a fenced compare-and-set: a button from a screen the user has left,
//     or a second click that lost the race, is refused with STATE_MISMATCH
//     ("Button expired, use /start") and never skips a state;
//   - a menu's buttons act only for the user it was made for: their tag
//     names the user (ui.TagFor, an owner code of five base-36 characters
//     of a hash of the user id), and a press by anybody else (another
//     member of a group, where everybody sees the menu) is refused with
//     FORBIDDEN and a short answer, editing nothing and moving no state.
//     Buttons rendered before tags named their user are taken as before.
//     (Data forged with one's own tag onto another's message needs the
//     webhook secret: Telegram sends only a message's own buttons' data.);
//   - a confirmed job is written to the shard's jobs stream by the same
//     script that moves the user on, so one confirm queues one job;
//   - a redelivered update that finds its own write re-renders the screen
//     instead of refusing, so a retry after a Telegram failure completes;
//   - Redis and catalog failures end in DB_ERROR ("Server error, try
//     again"); a fenced refusal ends in PASSIVE_REJECT and an error
//     wrapping dispatcher.ErrNotActive, leaving the update for the ACTIVE instance.
//
// Not guaranteed: a screen the user has already seen is not re-sent when
// Telegram refuses both the edit and the new message (the failure is
// logged as TELEGRAM_API_ERROR).
package menubot
