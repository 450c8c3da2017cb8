// Package smoke runs the full callback chain in-process and checks it: an
// instance with embedded Redis and the sandbox Bot API, a `/start` message
// and a click on the first button of the menu, both posted to the webhook
// over HTTP. It passes only when the click's cid has every event of the
// chain (Chain) in the log.
package smoke

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/refbot"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Chain is the event chain every answered button click must log, in order.
var Chain = []telemetry.Event{
	telemetry.EvCallbackReceived,
	telemetry.EvCallbackRouted,
	telemetry.EvCallbackAccepted,
	telemetry.EvUIRender,
	telemetry.EvAnswerCallbackQuery,
}

// ErrChainIncomplete is returned when an event of the chain is missing.
var ErrChainIncomplete = errors.New("smoke: callback chain incomplete")

// Check looks for the chain of cid in JSON log lines and writes one ✅ or ❌
// line per event. It returns ErrChainIncomplete naming the missing events.
func Check(lines [][]byte, cid string, out io.Writer) error {
	found := map[telemetry.Event]bool{}
	for _, b := range lines {
		var l map[string]any
		if json.Unmarshal(b, &l) != nil || l[telemetry.FCID] != cid {
			continue
		}
		if name, _ := l[telemetry.FName].(string); name != "" {
			found[telemetry.Event(name)] = true
		}
	}
	var missing []string
	for _, ev := range Chain {
		if found[ev] {
			fmt.Fprintf(out, "✅ %s: found\n", ev)
		} else {
			fmt.Fprintf(out, "❌ %s: missing\n", ev)
			missing = append(missing, string(ev))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s for cid %s", ErrChainIncomplete, strings.Join(missing, ", "), cid)
	}
	fmt.Fprintln(out, "PASS: Full callback chain detected")
	return nil
}

// logBuffer collects the instance's log lines.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines [][]byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for {
		i := bytes.IndexByte(b.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, append([]byte(nil), b.buf.Next(i + 1)[:i]...))
	}
	return len(p), nil
}

func (b *logBuffer) snapshot() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.lines...)
}

// Run starts an instance in-process, drives the chain, checks it, and
// writes the result to out.
func Run(ctx context.Context, out io.Writer) error {
	cfg := config.Default()
	cfg.Sandbox = true
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.InstanceID = "smoke"
	cfg.LeaseTTL = 2 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.LogFormat = "json"
	logs := &logBuffer{}
	srv, err := refbot.New(cfg, logs) // dispatcher.New with examples/menubot
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	defer func() { stop(); <-done }()

	base := "http://" + srv.Addr()
	if err := waitActive(ctx, base); err != nil {
		return err
	}
	fmt.Fprintf(out, "smoke: instance on %s is ACTIVE (embedded Redis, sandbox Bot API)\n", srv.Addr())

	const chat = 424242
	start := fmt.Sprintf(`{"update_id":900001,"message":{"message_id":1,"date":%d,"text":"/start",`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"Smoke"},`+
		`"entities":[{"type":"bot_command","offset":0,"length":6}]}}`, time.Now().Unix(), chat, chat)
	if _, err := post(ctx, base, start); err != nil {
		return err
	}
	msg, err := waitMenu(ctx, base, chat)
	if err != nil {
		return err
	}
	click := fmt.Sprintf(`{"update_id":900002,"callback_query":{"id":"smoke-1","data":%q,"chat_instance":"1",`+
		`"from":{"id":%d,"is_bot":false,"first_name":"Smoke"},"message":{"message_id":%d,"date":%d,`+
		`"chat":{"id":%d,"type":"private"},"text":"menu"}}}`, msg.data, chat, msg.id, time.Now().Unix(), chat)
	cid, err := post(ctx, base, click)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "smoke: clicked %q, cid=%s\n", msg.data, cid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err = Check(logs.snapshot(), cid, io.Discard); err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // the log has no change notification
		}
	}
	return Check(logs.snapshot(), cid, out)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func post(ctx context.Context, base, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhook", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("smoke: post webhook: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		CID string `json:"cid"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return "", fmt.Errorf("smoke: webhook answered %d", resp.StatusCode)
	}
	return r.CID, nil
}

func waitActive(ctx context.Context, base string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := httpClient.Get(base + "/readyz")
		if err == nil {
			var r struct {
				Role string `json:"role"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && r.Role == telemetry.RoleActive {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("smoke: instance did not become ACTIVE within 10s")
}

type menuMessage struct {
	id   int64
	data string
}

// waitMenu waits for the MAIN_MENU message in the sandbox record and returns
// its id and the callback data of its first button.
func waitMenu(ctx context.Context, base string, chat int64) (menuMessage, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, ok := findMenu(base, chat); ok {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return menuMessage{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return menuMessage{}, errors.New("smoke: no MAIN_MENU message with buttons reached the sandbox Bot API within 10s")
}

func findMenu(base string, chat int64) (menuMessage, bool) {
	resp, err := httpClient.Get(base + "/sandbox/messages")
	if err != nil {
		return menuMessage{}, false
	}
	defer resp.Body.Close()
	var rec struct {
		Messages []fakebot.Call `json:"messages"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&rec); err != nil {
		return menuMessage{}, false
	}
	for _, c := range rec.Messages {
		if id, data, ok := c.Menu(); ok && c.Chat() == strconv.FormatInt(chat, 10) {
			return menuMessage{id: id, data: data}, true
		}
	}
	return menuMessage{}, false
}
