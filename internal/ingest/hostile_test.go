package ingest_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// hostile is one request a stranger (or a broken proxy) sends to the
// webhook.
type hostile struct {
	name    string
	method  string
	secret  *string // nil: the right one
	query   string
	body    []byte
	chunked bool // no Content-Length: the size is found while reading
	status  int
	reason  string
}

func str(s string) *string { return &s }

// pad returns a valid update of exactly n bytes (its text is padding).
func pad(id, n int) []byte {
	head := []byte(`{"update_id":` + itoa(id) + `,"message":{"message_id":1,"date":1764300000,` +
		`"chat":{"id":4242,"type":"private"},"text":"`)
	tail := []byte(`"}}`)
	return append(append(head, bytes.Repeat([]byte("a"), n-len(head)-len(tail))...), tail...)
}

func hostileRequests() []hostile {
	valid := startUpdate(500)
	var out []hostile
	for _, s := range []struct{ name, value string }{
		{"missing secret", ""}, {"wrong secret of the same length", strings.Repeat("x", len(secret))},
		{"prefix of the secret", secret[:len(secret)-1]}, {"secret plus a byte", secret + "!"},
		{"secret in another case", strings.ToUpper(secret)},
	} {
		out = append(out, hostile{name: s.name, method: http.MethodPost, secret: str(s.value), body: valid,
			status: http.StatusUnauthorized, reason: "UNAUTHORIZED"})
	}
	out = append(out, hostile{name: "secret in the query string", method: http.MethodPost, secret: str(""),
		query: "?secret_token=" + secret, body: valid, status: http.StatusUnauthorized, reason: "UNAUTHORIZED"})
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, "PROPFIND"} {
		out = append(out, hostile{name: m, method: m, body: valid, status: http.StatusMethodNotAllowed, reason: "METHOD_NOT_ALLOWED"})
	}
	out = append(out,
		hostile{name: "1 MiB + 1 body", method: http.MethodPost, body: pad(501, ingest.MaxBody+1),
			status: http.StatusRequestEntityTooLarge, reason: "PAYLOAD_TOO_LARGE"},
		hostile{name: "1 MiB + 1 body, chunked", method: http.MethodPost, body: pad(502, ingest.MaxBody+1), chunked: true,
			status: http.StatusRequestEntityTooLarge, reason: "PAYLOAD_TOO_LARGE"},
		hostile{name: "8 MiB of zeros, chunked", method: http.MethodPost, body: make([]byte, 8<<20), chunked: true,
			status: http.StatusRequestEntityTooLarge, reason: "PAYLOAD_TOO_LARGE"},
		hostile{name: "empty body", method: http.MethodPost, body: nil, status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "binary junk", method: http.MethodPost, body: []byte("\x00\xff\xfe\x01GIF89a"), status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "nested objects 100000 deep", method: http.MethodPost,
			body:   []byte(`{"update_id":503,"message":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100001)),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "nested arrays 200000 deep in an unknown field", method: http.MethodPost,
			body:   []byte(`{"update_id":504,"x":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}`),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "update_id beyond int64", method: http.MethodPost, body: []byte(`{"update_id":99999999999999999999}`),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "update_id 1e400", method: http.MethodPost, body: []byte(`{"update_id":1e400}`),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "update_id -1", method: http.MethodPost, body: []byte(`{"update_id":-1,"message":{}}`),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
		hostile{name: "two documents", method: http.MethodPost, body: append(startUpdate(506), startUpdate(507)...),
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"},
	)
	// truncated at every 7th byte, and just before the end
	for cut := 1; cut < len(valid); cut += 7 {
		out = append(out, hostile{name: "truncated at " + itoa(cut), method: http.MethodPost, body: valid[:cut],
			status: http.StatusBadRequest, reason: "BAD_PAYLOAD"})
	}
	out = append(out, hostile{name: "truncated by one byte", method: http.MethodPost, body: valid[:len(valid)-1],
		status: http.StatusBadRequest, reason: "BAD_PAYLOAD"})
	return out
}

func (f *fixture) do(t *testing.T, h hostile) (int, http.Header) {
	t.Helper()
	var body io.Reader = bytes.NewReader(h.body)
	if h.chunked {
		body = io.MultiReader(bytes.NewReader(h.body)) // hides the length: sent chunked
	}
	req, err := http.NewRequest(h.method, f.srv.URL+h.query, body)
	require.NoError(t, err)
	if h.secret == nil {
		req.Header.Set(ingest.SecretHeader, secret)
	} else if *h.secret != "" {
		req.Header.Set(ingest.SecretHeader, *h.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// rejections counts the WEBHOOK_REJECTED events by reason.
func (f *fixture) rejections(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, e := range f.events(t) {
		if e["name"] == "WEBHOOK_REJECTED" {
			r, _ := e["reason_code"].(string)
			out[r]++
		}
	}
	return out
}

// TestHostileRequests sends each hostile request to the webhook: each gets
// its status and exactly one WEBHOOK_REJECTED with its reason, nothing is
// enqueued, and the webhook keeps taking valid updates.
func TestHostileRequests(t *testing.T) {
	runBoth(t, func(t *testing.T, c redis.UniversalClient, ns string) {
		f := newFixture(t, c, ns, 1000)
		next := 600
		for _, h := range hostileRequests() {
			before := f.rejections(t)
			code, header := f.do(t, h)
			require.Equal(t, h.status, code, h.name)
			if code == http.StatusMethodNotAllowed {
				require.Equal(t, http.MethodPost, header.Get("Allow"), h.name)
			}
			after := f.rejections(t)
			require.Equal(t, before[h.reason]+1, after[h.reason], "%s: one WEBHOOK_REJECTED %s", h.name, h.reason)
			require.EqualValues(t, next-600, f.streamLen(t), "%s: nothing enqueued", h.name)

			code, body := f.post(t, startUpdate(next), nil)
			require.Equal(t, http.StatusOK, code, "%s: a valid update after it: %s", h.name, body)
			next++
		}
		require.NotContains(t, f.logs.String(), secret)
	})
}

// TestBodyOfExactlyOneMiB: the limit is 1 MiB inclusive.
func TestBodyOfExactlyOneMiB(t *testing.T) {
	_, c := redistest.Mini(t)
	f := newFixture(t, c, "tgd", 1000)
	body := pad(700, ingest.MaxBody)
	require.Len(t, body, ingest.MaxBody)
	code, resp := f.post(t, body, nil)
	require.Equal(t, http.StatusOK, code, resp)
	require.EqualValues(t, 1, f.streamLen(t))
}
