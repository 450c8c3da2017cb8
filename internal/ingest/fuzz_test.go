package ingest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
	upd "github.com/dispatcher-bot/dispatcher/internal/update"
)

var okBody = regexp.MustCompile(`^\{"ok":true,"cid":"[0-9a-f]{8}"\}$`)

// FuzzWebhook posts any body to the webhook, with the right secret or
// not: the handler never panics; without the secret the answer is 401;
// with it, the answer is 200 exactly when the body is at most 1 MiB and a
// JSON object whose update_id decodes into an int64 ≥ 0 (encoding/json is
// the judge), 413 above 1 MiB and 400 otherwise; a 200 puts the update on a stream once (a repeat is not
// enqueued again) and every other answer enqueues nothing.
//
// A repeat is the same update_id on the same shard: the dedupe marker lives
// in the shard's hash slot (docs/queue.md), and Telegram's resends are
// byte-identical, so they always are. Two different bodies that share an
// update_id but name different chats are two entries.
func FuzzWebhook(f *testing.F) {
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"/start"}}`), true)
	f.Add([]byte(`{"update_id":2,"callback_query":{"id":"q","from":{"id":1,"is_bot":false,"first_name":"a"},"chat_instance":"1","data":"v1:x"}}`), true)
	f.Add([]byte(`{"update_id":3}`), false)
	f.Add([]byte(`{"update_id":4,"message":{"chat":{"id":"not a number"}}}`), true)
	f.Add([]byte(`{"update_id":5,"message":`), true)
	f.Add([]byte(`{"update_id":-1}`), true)
	f.Add([]byte(`{"update_id":1e3}`), true)
	f.Add([]byte(`{"update_id":6,"update_id":7}`), true)
	f.Add([]byte(strings.Repeat(`{"a":`, 20000)), true)
	f.Add([]byte(`{"update_id":8,"x":`+strings.Repeat("[", 12000)+strings.Repeat("]", 12000)+`}`), true)
	f.Add([]byte("\xff\xfe{}"), true)
	f.Add([]byte(`null`), true)
	for _, b := range updatetest.Bodies(f, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		f.Add(b.JSON, true)
	}

	_, c := redistest.Mini(f)
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "fuzz", Output: io.Discard, Secrets: []string{secret}})
	if err != nil {
		f.Fatal(err)
	}
	ks := keys.New("fuzz")
	q := queue.New(c, ks, queue.Options{Shards: 2, MaxBacklog: 1 << 30, DedupeWindow: time.Hour})
	h := ingest.New(ingest.Config{Queue: q, Log: log, Metrics: metrics.NewTest(), Secret: secret, Instance: "fuzz"})
	length := func(t *testing.T) int64 {
		var n int64
		for s := 0; s < 2; s++ {
			l, err := c.XLen(context.Background(), ks.Shard(s).Stream()).Result()
			if err != nil && err.Error() != "redis: nil" {
				t.Fatal(err)
			}
			n += l
		}
		return n
	}
	type key struct {
		id    int64
		shard int
	}
	seen := map[key]bool{}

	f.Fuzz(func(t *testing.T, body []byte, withSecret bool) {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		if withSecret {
			req.Header.Set(ingest.SecretHeader, secret)
		}
		before := length(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after := length(t)

		id, update := updatetest.IsUpdate(body)
		update = update && len(body) <= ingest.MaxBody
		want := http.StatusBadRequest
		switch {
		case !withSecret:
			want = http.StatusUnauthorized
		case len(body) > ingest.MaxBody:
			want = http.StatusRequestEntityTooLarge
		case update:
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Fatalf("body %.80q (secret %v): status %d, want %d: %s", body, withSecret, rec.Code, want, rec.Body)
		}
		var k key
		if update {
			info, err := upd.Scan(body)
			if err != nil {
				t.Fatalf("accepted but Scan refuses it: %v", err)
			}
			k = key{id, q.ShardOf(info.Type, info.ChatID, info.UserID, id)}
		}
		switch {
		case rec.Code != http.StatusOK && after != before:
			t.Fatalf("refused with %d but enqueued", rec.Code)
		case rec.Code == http.StatusOK && !okBody.MatchString(rec.Body.String()):
			t.Fatalf("200 with body %q", rec.Body)
		case rec.Code == http.StatusOK && seen[k] && after != before:
			t.Fatalf("update %d enqueued again", id)
		case rec.Code == http.StatusOK && !seen[k] && after != before+1:
			t.Fatalf("update %d answered 200, stream %d -> %d", id, before, after)
		}
		if rec.Code == http.StatusOK {
			seen[k] = true
		}
	})
}
