package dispatcher

// Handler handles one update. Handle is synchronous: the update is
// acknowledged when Handle returns nil, so the work it did is done once
// it returns. The dispatcher guarantees, per chat, that Handle runs for
// one update at a time, in the order Telegram sent them, on one instance.
//
// Returning an error means the dispatch failed: the update is dispatched
// again (the same update_id and cid) up to MAX_DELIVERIES times, then
// dead-lettered (`dispatcher dlq`), and later updates of the same chat wait
// for it. Return nil for every outcome the user was told about (a refusal
// logged with Context.Reject is an outcome), and return the error of a
// call refused with ErrNotActive as it is.
//
// A handler that outlives HANDLER_TIMEOUT has its Context cancelled; the
// dispatch fails with HANDLER_TIMEOUT. A panic is recovered and the dispatch
// fails with HANDLER_PANIC (the Router also tells the user).
type Handler interface {
	Handle(c *Context) error
}

// HandlerFunc is a function as a Handler.
type HandlerFunc func(c *Context) error

// Handle calls f(c).
func (f HandlerFunc) Handle(c *Context) error { return f(c) }

// Middleware wraps a Handler: it may look at the update before and at the
// error after, or not call next at all.
type Middleware func(next Handler) Handler

// Chain returns h wrapped in mw: the first middleware is the outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
