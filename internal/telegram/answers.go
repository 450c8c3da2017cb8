package telegram

import (
	"context"
	"sync"
)

// answers remembers the callback queries answered while handling one
// update.
type answers struct {
	mu  sync.Mutex
	ids map[string]bool
}

type answersKey struct{}

// TrackAnswers returns a context under which every answerCallbackQuery made
// through this package is remembered: AnswerCallback refuses a second answer
// to the same query and Answered reports whether a query was answered.
// The router makes one per callback update.
func TrackAnswers(ctx context.Context) context.Context {
	return context.WithValue(ctx, answersKey{}, &answers{ids: map[string]bool{}})
}

func answersFrom(ctx context.Context) *answers {
	a, _ := ctx.Value(answersKey{}).(*answers)
	return a
}

// claim marks id answered and reports whether it was not before.
func (a *answers) claim(id string) bool {
	if a == nil {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids[id] {
		return false
	}
	a.ids[id] = true
	return true
}

// Answered reports whether the callback query id was answered (or an answer
// was attempted) under ctx's TrackAnswers context.
func Answered(ctx context.Context, id string) bool {
	a := answersFrom(ctx)
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ids[id]
}
