package router

import "errors"

// ErrHandlerPanic is returned by Handle when the handler panicked; the
// panic was logged as HANDLER_PANIC and the callback answered.
var ErrHandlerPanic = errors.New("router: handler panicked")

// ErrHandlerTimeout is returned (joined with the context's error) by
// Handle when the handler outlived the context's deadline; it was logged as
// HANDLER_TIMEOUT and the callback answered.
var ErrHandlerTimeout = errors.New("router: handler timed out")

// ErrCanceled is returned (joined with the context's error) when the
// dispatch's context was cancelled before the handler finished: the
// instance stopped being ACTIVE or is shutting down.
var ErrCanceled = errors.New("router: dispatch cancelled")

// ErrNoChat is returned by Ctx.Reply for an update that names no chat.
var ErrNoChat = errors.New("router: update names no chat")

// ErrNotCallback is returned by Ctx.Answer for an update that is not a
// callback query.
var ErrNotCallback = errors.New("router: not a callback query")
