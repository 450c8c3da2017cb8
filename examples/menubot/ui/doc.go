// Package ui is the registry of the bot's screens and buttons (CONTRACT §6)
// and the only place inline keyboards are built.
//
// Guarantees: Build refuses a keyboard that puts a button on a screen that
// does not register it, so every keyboard the bot sends uses only its
// screen's registered buttons; every button's callback data is written by
// the router's codec (at most 64 bytes) and, on screens that follow the
// user's state, carries a tag naming the screen and the state revision the
// keyboard was rendered at, which the bot checks to refuse buttons of a
// screen the user has left (STATE_MISMATCH).
//
// Not guaranteed: that a route exists for each button; the bot's tests
// check that against its router.
package ui
