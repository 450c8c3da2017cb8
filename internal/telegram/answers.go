package telegram

import (
	"context"
	"sync"
)

// answers remembers the callback queries answered while handling one
// update: only an answer Telegram accepted counts; a failed one is
// remembered with its text, so the router's guard can try it once more.
type answers struct {
	mu     sync.Mutex
	state  map[string]answerState
	failed map[string]string // text of the last failed answer
}

type answerState int

const (
	unanswered answerState = iota
	answering              // a call is in flight
	answered               // Telegram accepted an answer
)

type answersKey struct{}

// TrackAnswers returns a context under which every answerCallbackQuery made
// through this package is remembered: AnswerCallback refuses a second answer
// to the same query (while one is in flight or after one succeeded) and
// Answered reports whether a query was answered. The router makes one per
// callback update.
func TrackAnswers(ctx context.Context) context.Context {
	return context.WithValue(ctx, answersKey{}, &answers{state: map[string]answerState{}, failed: map[string]string{}})
}

func answersFrom(ctx context.Context) *answers {
	a, _ := ctx.Value(answersKey{}).(*answers)
	return a
}

// claim marks id as being answered and reports whether it was neither
// answered nor being answered.
func (a *answers) claim(id string) bool {
	if a == nil {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state[id] != unanswered {
		return false
	}
	a.state[id] = answering
	return true
}

// settle records the outcome of an answer to id with text.
func (a *answers) settle(id, text string, ok bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		a.state[id] = answered
		delete(a.failed, id)
		return
	}
	if a.state[id] != answered {
		a.state[id] = unanswered
		a.failed[id] = text
	}
}

// Answered reports whether Telegram accepted an answer to the callback
// query id under ctx's TrackAnswers context. A failed answer does not
// count.
func Answered(ctx context.Context, id string) bool {
	a := answersFrom(ctx)
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state[id] == answered
}

// AnswerFailed reports whether an answer to the callback query id was
// attempted under ctx's TrackAnswers context and failed, with its text
// (and none succeeded since).
func AnswerFailed(ctx context.Context, id string) (text string, failed bool) {
	a := answersFrom(ctx)
	if a == nil {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	text, failed = a.failed[id]
	return text, failed && a.state[id] != answered
}
