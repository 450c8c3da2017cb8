package dispatcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// A bot with one command, run in sandbox mode on an embedded Redis: no
// Telegram, no Redis to install. The update is posted to the webhook as
// Telegram would; what the bot sent is read back from the sandbox.
func Example() {
	r := dispatcher.NewRouter()
	r.Command("start", func(c *dispatcher.Context) error {
		c.Accept("MAIN")
		_, err := c.Reply("Hello, "+c.Message().From.FirstName+"!", nil)
		return err
	})

	cfg := dispatcher.DefaultConfig() // sandbox, embedded Redis
	_ = cfg.Set("LISTEN_ADDR", "127.0.0.1:0")
	d, err := dispatcher.New(cfg, r, dispatcher.WithLogOutput(io.Discard))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	post(d.Addr(), `{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},`+
		`"from":{"id":7,"is_bot":false,"first_name":"Ada"},"text":"/start"}}`)
	fmt.Println(sent(d.Addr(), 1)[0])
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// Hello, Ada!
	// stopped: <nil>
}

// Buttons carry typed data (package callback); the router routes a press
// by the data's action and answers every query exactly once.
func ExampleHandleCallback() {
	type pick struct{ Item string }
	picks := callback.Codec[pick]{Action: "pick",
		To:   func(p pick) []string { return []string{p.Item} },
		From: func(a []string) (pick, error) { return pick{Item: a[0]}, nil }}

	r := dispatcher.NewRouter()
	r.Command("start", func(c *dispatcher.Context) error {
		data, err := picks.Encode(pick{Item: "tea"})
		if err != nil {
			return err // over 64 bytes or bad characters: caught before sending
		}
		c.Render("MENU", "pick:tea")
		c.Accept("MENU")
		_, err = c.Reply("What would you like?", &telego.InlineKeyboardMarkup{InlineKeyboard: [][]telego.InlineKeyboardButton{
			{{Text: "Tea", CallbackData: data}}}})
		return err
	})
	dispatcher.HandleCallback(r, picks, func(c *dispatcher.Context, p pick) error {
		c.Accept("DONE")
		return c.Answer("One " + p.Item + " coming")
	})

	cfg := dispatcher.DefaultConfig()
	_ = cfg.Set("LISTEN_ADDR", "127.0.0.1:0")
	d, err := dispatcher.New(cfg, r, dispatcher.WithLogOutput(io.Discard))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	post(d.Addr(), `{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},`+
		`"from":{"id":7,"is_bot":false,"first_name":"Ada"},"text":"/start"}}`)
	post(d.Addr(), `{"update_id":2,"callback_query":{"id":"q1","from":{"id":7,"is_bot":false,"first_name":"Ada"},`+
		`"chat_instance":"c","data":"v1:pick:tea","message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"}}}}`)
	for _, s := range sent(d.Addr(), 2) {
		fmt.Println(s)
	}
	stop()
	<-done
	// Output:
	// What would you like?
	// One tea coming
}

// post sends an update to the webhook until the instance takes it (it
// answers 503 until its Redis is up and its start checks passed).
func post(addr, body string) { postTo("http://"+addr+"/webhook", "", body) }

// postTo posts body to url (with the webhook secret header when secret is
// set) until it is answered 200, for at most 10 s.
func postTo(url, secret, body string) {
	proctest.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// sent waits for n texts the bot sent or answered in the sandbox.
func sent(addr string, n int) []string {
	var texts []string
	proctest.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		resp, err := http.Get("http://" + addr + "/sandbox/messages")
		if err != nil {
			return false
		}
		var got struct {
			Messages []struct {
				Method string         `json:"method"`
				Params map[string]any `json:"params"`
			} `json:"messages"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		texts = texts[:0]
		for _, m := range got.Messages {
			if t, ok := m.Params["text"].(string); ok && (m.Method == "sendMessage" || m.Method == "answerCallbackQuery") {
				texts = append(texts, t)
			}
		}
		return len(texts) >= n
	})
	return texts
}

// The webhook mounted in your own server beside your routes; Run still
// runs (it dispatches what the webhook enqueues and serves the ops
// endpoints on LISTEN_ADDR).
func ExampleDispatcher_WebhookHandler() {
	handled := make(chan string, 1)
	cfg := dispatcher.DefaultConfig()
	_ = cfg.Set("LISTEN_ADDR", "127.0.0.1:0")
	_ = cfg.Set("WEBHOOK_SECRET", "my-secret-0123456789")
	d, err := dispatcher.New(cfg, dispatcher.HandlerFunc(func(c *dispatcher.Context) error {
		handled <- c.Text()
		return nil
	}), dispatcher.WithLogOutput(io.Discard))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	mux := http.NewServeMux()
	mux.Handle("/telegram/hook", d.WebhookHandler())
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "your own route") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"update_id":9,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"text":"hi"}}`
	postTo(srv.URL+"/telegram/hook", "my-secret-0123456789", body) // 503 until the instance is up
	fmt.Println("handled:", <-handled)
	stop()
	<-done
	// Output:
	// handled: hi
}
