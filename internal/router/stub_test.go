package router

import "github.com/mymmrac/telego"

type messageStub struct{ text string }

func (m *messageStub) msg() *telego.Message { return &telego.Message{Text: m.text} }
