package fakebot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// getUpdates posts one getUpdates to srv and returns the status and the
// update_ids of the result (or the description of an error).
func getUpdates(t *testing.T, srv *httptest.Server, params map[string]any) (int, []int64, string) {
	t.Helper()
	b, _ := json.Marshal(params)
	resp, err := http.Post(srv.URL+"/botTOKEN/getUpdates", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		OK          bool `json:"ok"`
		Description string
		Result      []struct {
			UpdateID int64 `json:"update_id"`
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	var ids []int64
	for _, u := range body.Result {
		ids = append(ids, u.UpdateID)
	}
	return resp.StatusCode, ids, body.Description
}

// TestGetUpdatesOffsetSemantics: an update is returned until an offset past
// it is confirmed, at most limit at a time and only of the allowed types;
// an update without update_id gets the next one.
func TestGetUpdatesOffsetSemantics(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		_, err := f.Queue([]byte(`{"message":{"text":"hi"}}`))
		require.NoError(t, err)
	}
	_, err := f.Queue([]byte(`{"update_id":10,"edited_message":{"text":"x"}}`))
	require.NoError(t, err)
	_, err = f.Queue([]byte(`{"update_id":9,"message":{}}`))
	require.ErrorIs(t, err, ErrUpdateID, "ids only grow")

	code, ids, _ := getUpdates(t, srv, map[string]any{"limit": 2})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []int64{1, 2}, ids)
	_, ids, _ = getUpdates(t, srv, nil)
	require.Equal(t, []int64{1, 2, 3, 10}, ids, "nothing confirmed yet: returned again")
	_, ids, _ = getUpdates(t, srv, map[string]any{"offset": 3, "allowed_updates": []string{"message"}})
	require.Equal(t, []int64{3}, ids, "1 and 2 confirmed; the edit is not an allowed type")
	require.EqualValues(t, 3, f.Confirmed())
	require.Equal(t, 2, f.Pending())
	_, ids, _ = getUpdates(t, srv, map[string]any{"offset": 11})
	require.Empty(t, ids)
	require.Zero(t, f.Pending())
	require.Len(t, f.CallsOf("getUpdates"), 4, "each answered getUpdates is recorded")
}

// TestGetUpdatesLongPoll: a getUpdates with nothing pending waits for an
// update up to its timeout; a second getUpdates ends the waiting one with
// 409, as Telegram's does; a set webhook makes getUpdates a 409.
func TestGetUpdatesLongPoll(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f)
	defer srv.Close()

	began := time.Now()
	code, ids, _ := getUpdates(t, srv, map[string]any{"timeout": 0.2})
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, ids)
	require.GreaterOrEqual(t, time.Since(began), 200*time.Millisecond, "the timeout is honoured")

	var wg sync.WaitGroup
	var got []int64
	wg.Add(1)
	go func() { defer wg.Done(); _, got, _ = getUpdates(t, srv, map[string]any{"timeout": 30}) }()
	require.Eventually(t, func() bool { f.polling.mu.Lock(); defer f.polling.mu.Unlock(); return f.polling.waiter != nil },
		5*time.Second, time.Millisecond)
	id, err := f.Queue([]byte(`{"message":{}}`))
	require.NoError(t, err)
	wg.Wait()
	require.Equal(t, []int64{id}, got, "an update ends the wait at once")

	var first int
	var desc string
	wg.Add(1)
	go func() {
		defer wg.Done()
		first, _, desc = getUpdates(t, srv, map[string]any{"offset": id + 1, "timeout": 30})
	}()
	require.Eventually(t, func() bool { f.polling.mu.Lock(); defer f.polling.mu.Unlock(); return f.polling.waiter != nil },
		5*time.Second, time.Millisecond)
	code, _, _ = getUpdates(t, srv, map[string]any{"offset": id + 1})
	wg.Wait()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, http.StatusConflict, first, "the earlier request is terminated")
	require.Equal(t, ConflictPoller, desc)
	require.Equal(t, 1, f.Conflicts())

	resp, err := http.Post(srv.URL+"/botTOKEN/setWebhook", "application/json", bytes.NewReader([]byte(`{"url":"https://x/webhook"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	code, _, desc = getUpdates(t, srv, nil)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, ConflictWebhook, desc)
}

// TestSandboxUpdatesEndpoint: POST /sandbox/updates queues an update and
// answers its update_id; a body that is not an object is refused.
func TestSandboxUpdatesEndpoint(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.UpdatesHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{"message":{"text":"/start"}}`)))
	require.NoError(t, err)
	var out struct {
		OK       bool  `json:"ok"`
		UpdateID int64 `json:"update_id"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.True(t, out.OK)
	require.EqualValues(t, 1, out.UpdateID)
	require.Equal(t, 1, f.Pending())

	resp, err = http.Post(srv.URL, "application/json", bytes.NewReader([]byte(`[1]`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestAGetUpdatesItsClientLeftIsNoConflict: a poller that cancels its long
// poll and hands over to another at once (a clean stop) is not two pollers
// at a time, even when the next getUpdates arrives before the server saw the
// first one's connection close; two live clients are.
func TestAGetUpdatesItsClientLeftIsNoConflict(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f)
	defer srv.Close()
	waiting := func() bool { f.polling.mu.Lock(); defer f.polling.mu.Unlock(); return f.polling.waiter != nil }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/botTOKEN/getUpdates",
			bytes.NewReader([]byte(`{"timeout":30}`)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, waiting, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	code, _, _ := getUpdates(t, srv, map[string]any{"timeout": 0})
	require.Equal(t, http.StatusOK, code)
	answered := func() bool {
		n := 0
		for _, c := range f.Calls() {
			if c.Method == "getUpdates" {
				n++
			}
		}
		return n == 2
	}
	require.Eventually(t, answered, 5*time.Second, time.Millisecond,
		"both requests answered (the cancelled one by the next one's arrival, or at its close)")
	require.Zero(t, f.Conflicts())
	require.LessOrEqual(t, f.Abandoned(), 1)
}
