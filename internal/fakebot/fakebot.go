// Package fakebot is a recording fake of the Telegram Bot API, served over
// real HTTP. The sandbox mode of `dispatcher serve` mounts it under
// /sandbox/, and the tests run it in an httptest.Server: the bot talks to it
// through telego exactly as it talks to Telegram.
//
// It answers the methods the bot uses (sendMessage, editMessageText,
// answerCallbackQuery, getMe with the bot's Username, setWebhook,
// getWebhookInfo, its answer settable with SetWebhookInfo, deleteWebhook;
// anything else gets ok:true), remembers the messages it "sent" so that an edit of an unknown message fails as
// Telegram's does, answers a message sent into a forum topic or through a
// business connection as being there, and can be told to fail calls (429
// with retry_after, 5xx, 400) to test the client. It serves getUpdates with
// Telegram's offset semantics over the updates queued with Queue (POST
// /sandbox/updates in sandbox mode): see updates.go.
package fakebot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Username is the fake bot's username, as getMe answers it.
const Username = "dispatcher_bot"

// Call is one recorded Bot API request.
type Call struct {
	Seq    int            `json:"seq"`
	Method string         `json:"method"`
	Params map[string]any `json:"params"`
	At     time.Time      `json:"at"`
	// Status is the HTTP status the fake answered with.
	Status int `json:"status"`
	// Result is what the fake answered (for sendMessage, the message with
	// its message_id).
	Result any `json:"result,omitempty"`
}

// Fault makes the fake answer one call with an error.
type Fault struct {
	Status      int    // HTTP status and error_code, e.g. 429, 500, 400
	RetryAfter  int    // seconds, for 429
	Description string // Telegram's description
}

// FaultFunc decides whether a call fails; n counts the calls of that method
// so far, starting at 1. Returning nil lets the call succeed.
type FaultFunc func(method string, n int) *Fault

// Server is the fake Bot API. The zero value is not usable; use New.
type Server struct {
	mu       sync.Mutex
	calls    []Call
	perMeth  map[string]int
	nextMsg  int64
	messages map[int64]map[int64]place // chat -> message id -> where the fake sent it
	fault    FaultFunc
	webhook  map[string]any
	hookInfo map[string]any // SetWebhookInfo: fields laid over getWebhookInfo's answer
	changed  chan struct{}  // closed and replaced on every call
	polling  polling        // getUpdates (updates.go)
}

// place is where a sent message lives: its forum topic, its business
// connection.
type place struct {
	thread   int64
	business string
}

// New returns an empty fake.
func New() *Server {
	return &Server{perMeth: map[string]int{}, nextMsg: 100, messages: map[int64]map[int64]place{},
		changed: make(chan struct{})}
}

// SetFault installs f (nil removes it).
func (s *Server) SetFault(f FaultFunc) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// SetWebhookInfo lays fields over what getWebhookInfo answers (the webhook
// setWebhook registered, else none), as Telegram would report a broken
// webhook: for example {"pending_update_count": 40, "last_error_date":
// 1764300000, "last_error_message": "Wrong response from the webhook: 502
// Bad Gateway"}. nil goes back to the plain answer.
func (s *Server) SetWebhookInfo(fields map[string]any) {
	s.mu.Lock()
	s.hookInfo = fields
	s.mu.Unlock()
}

// Calls returns a copy of the recorded calls, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsOf returns the recorded successful calls of one method.
func (s *Server) CallsOf(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method && c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

// Changed returns a channel closed at the next recorded call, so tests can
// wait for a condition without sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until cond holds for the recorded calls or the timeout
// passes; it reports whether cond held.
func (s *Server) WaitFor(timeout time.Duration, cond func([]Call) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := s.Changed()
		if cond(s.Calls()) {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond(s.Calls())
		}
	}
}

// Reset forgets every recorded call.
func (s *Server) Reset() {
	s.mu.Lock()
	s.calls = nil
	s.perMeth = map[string]int{}
	s.mu.Unlock()
}

// Forget drops the messages the fake sent in chat, as if they were
// deleted: later edits of them fail as Telegram's do.
func (s *Server) Forget(chat int64) {
	s.mu.Lock()
	delete(s.messages, chat)
	s.mu.Unlock()
}

// ServeHTTP answers POST /bot<token>/<method> (any prefix before /bot is
// ignored, so the fake can be mounted under a path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := strings.LastIndex(r.URL.Path, "/bot")
	rest := ""
	if i >= 0 {
		rest = r.URL.Path[i+4:]
	}
	j := strings.IndexByte(rest, '/')
	if i < 0 || j < 0 || j == len(rest)-1 {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	method := rest[j+1:]
	params := map[string]any{}
	if err := decodeParams(r, params); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: " + err.Error()})
		return
	}
	if method == "getUpdates" {
		s.poll(w, r, params)
		return
	}
	status, body := s.answer(method, params)
	writeJSON(w, status, body)
}

// poll answers getUpdates: a fault if one applies, else the long poll
// (updates.go), recorded when answered.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, params map[string]any) {
	at := time.Now().UTC()
	status, body, faulted := s.faulted("getUpdates", params)
	if !faulted {
		status, body = s.getUpdates(r.Context(), params)
		s.mu.Lock()
		call := Call{Seq: len(s.calls) + 1, Method: "getUpdates", Params: params, At: at, Status: status, Result: body["result"]}
		s.record(call)
		s.mu.Unlock()
		if status == http.StatusOK {
			body = map[string]any{"ok": true, "result": body["result"]}
		}
	}
	writeJSON(w, status, body)
}

func decodeParams(r *http.Request, params map[string]any) error {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil && err.Error() != "EOF" {
			return err
		}
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return err
		}
		for k, v := range r.MultipartForm.Value {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
	default:
		if err := r.ParseForm(); err != nil {
			return err
		}
		for k, v := range r.Form {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
	}
	return nil
}

func (s *Server) answer(method string, params map[string]any) (int, map[string]any) {
	if status, body, faulted := s.faulted(method, params); faulted {
		return status, body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Seq: len(s.calls) + 1, Method: method, Params: params, At: time.Now().UTC(), Status: http.StatusOK}
	status, result := s.result(method, params)
	call.Status = status
	call.Result = result["result"]
	s.record(call)
	if status != http.StatusOK {
		return status, result
	}
	return status, map[string]any{"ok": true, "result": result["result"]}
}

// faulted counts a call of method and, when the FaultFunc fails it, records
// it and returns the error answer.
func (s *Server) faulted(method string, params map[string]any) (int, map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMeth[method]++
	if s.fault == nil {
		return 0, nil, false
	}
	f := s.fault(method, s.perMeth[method])
	if f == nil {
		return 0, nil, false
	}
	s.record(Call{Seq: len(s.calls) + 1, Method: method, Params: params, At: time.Now().UTC(), Status: f.Status})
	body := map[string]any{"ok": false, "error_code": f.Status, "description": f.Description}
	if f.RetryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": f.RetryAfter}
	}
	return f.Status, body, true
}

// record appends a call and wakes the waiters of Changed; s.mu is held.
func (s *Server) record(c Call) {
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

// result computes a successful answer; s.mu is held.
func (s *Server) result(method string, p map[string]any) (int, map[string]any) {
	ok := func(v any) (int, map[string]any) { return http.StatusOK, map[string]any{"result": v} }
	switch method {
	case "getMe":
		return ok(s.Me())
	case "sendMessage":
		chat := toInt(p["chat_id"])
		s.nextMsg++
		if s.messages[chat] == nil {
			s.messages[chat] = map[int64]place{}
		}
		at := place{thread: toInt(p["message_thread_id"])}
		at.business, _ = p["business_connection_id"].(string)
		s.messages[chat][s.nextMsg] = at
		return ok(s.message(chat, s.nextMsg, at, p))
	case "editMessageText", "editMessageReplyMarkup":
		if _, inline := p["inline_message_id"]; inline {
			return ok(true)
		}
		chat, id := toInt(p["chat_id"]), toInt(p["message_id"])
		at, sent := s.messages[chat][id]
		if !sent {
			return http.StatusBadRequest, map[string]any{"ok": false, "error_code": 400,
				"description": "Bad Request: message to edit not found"}
		}
		return ok(s.message(chat, id, at, p))
	case "setWebhook":
		s.webhook = map[string]any{"url": p["url"], "has_custom_certificate": false, "pending_update_count": 0}
		if v, ok := p["max_connections"]; ok {
			s.webhook["max_connections"] = v
		}
		if v, ok := p["allowed_updates"]; ok {
			s.webhook["allowed_updates"] = v
		}
		return ok(true)
	case "deleteWebhook":
		s.webhook = nil
		return ok(true)
	case "getWebhookInfo":
		info := map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": 0}
		for k, v := range s.webhook {
			info[k] = v
		}
		for k, v := range s.hookInfo {
			info[k] = v
		}
		return ok(info)
	}
	return ok(true)
}

// Me is the bot getMe describes.
func (s *Server) Me() map[string]any {
	return map[string]any{"id": 123456789, "is_bot": true, "first_name": "Dispatcher", "username": Username}
}

// message is a message the fake "sent", at its place (its topic and
// business connection), as Telegram answers.
func (s *Server) message(chat, id int64, at place, p map[string]any) map[string]any {
	typ := "private"
	if chat < 0 {
		typ = "supergroup"
	}
	m := map[string]any{"message_id": id, "date": time.Now().Unix(), "from": s.Me(),
		"chat": map[string]any{"id": chat, "type": typ}, "text": p["text"]}
	if rm, ok := p["reply_markup"]; ok {
		m["reply_markup"] = rm
	}
	if at.thread != 0 {
		m["message_thread_id"], m["is_topic_message"] = at.thread, true
	}
	if at.business != "" {
		m["business_connection_id"] = at.business
	}
	return m
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return n
	case float64:
		return int64(x)
	case string:
		var n json.Number = json.Number(x)
		i, _ := n.Int64()
		return i
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// MessagesHandler serves the recorded calls as JSON (GET /sandbox/messages).
func (s *Server) MessagesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": s.Calls()})
	})
}

// Chat returns the chat_id the call was made for, as text ("" without one).
func (c Call) Chat() string {
	if v, ok := c.Params["chat_id"]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// Menu returns, for a successful sendMessage that carries an inline
// keyboard, the message id the fake gave it and the callback data of its
// first button: what a test needs to click that message's first button.
// It works on calls read in-process and on calls decoded from
// GET /sandbox/messages.
func (c Call) Menu() (messageID int64, data string, ok bool) {
	if c.Method != "sendMessage" || c.Status != http.StatusOK {
		return 0, "", false
	}
	kb, _ := c.Params["reply_markup"].(map[string]any)
	rows, _ := kb["inline_keyboard"].([]any)
	if len(rows) == 0 {
		return 0, "", false
	}
	row, _ := rows[0].([]any)
	if len(row) == 0 {
		return 0, "", false
	}
	btn, _ := row[0].(map[string]any)
	data, _ = btn["callback_data"].(string)
	res, _ := c.Result.(map[string]any)
	_, _ = fmt.Sscan(fmt.Sprint(res["message_id"]), &messageID)
	return messageID, data, data != "" && messageID != 0
}
