package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// TestUpdatesTelegoCannotDecodeAreDispatched: every body telego cannot
// fully decode (a value newer than telego in each discriminated field),
// every kind of update and every fixture reaches the handler, decoded
// once, with its raw JSON and what did decode; DECODE_INCOMPLETE
// (UNSUPPORTED_PAYLOAD) is logged once for each refused one, even across a
// retry for another reason; each ends in DISPATCH_OK, nothing is
// dead-lettered.
func TestUpdatesTelegoCannotDecodeAreDispatched(t *testing.T) {
	var (
		mu    sync.Mutex
		seen  = map[int64]*update.Update{}
		calls = map[int64]int{}
	)
	bodies := updatetest.Bodies(t, updatetest.TelegoRefuses, updatetest.Kinds, updatetest.Fixtures)
	flaky := int64(0) // fails its first delivery
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		mu.Lock()
		defer mu.Unlock()
		calls[u.UpdateID]++
		if prev := seen[u.UpdateID]; prev != nil && prev != u {
			return errors.New("decoded again for a redelivery")
		}
		seen[u.UpdateID] = u
		if u.UpdateID == flaky && calls[u.UpdateID] == 1 {
			return errors.New("telegram said 502")
		}
		return nil
	}), nil)
	refused := map[int64]bool{}
	payloads := map[int64][]byte{}
	for _, b := range bodies {
		info, err := update.Scan(b.JSON)
		require.NoError(t, err, b.Name)
		if b.Set == updatetest.TelegoRefuses {
			refused[info.UpdateID] = true
			if flaky == 0 {
				flaky = info.UpdateID
			}
		}
		payloads[info.UpdateID] = b.JSON
		e := queue.Envelope{CID: fmt.Sprintf("%08x", info.UpdateID), UpdateID: info.UpdateID, Type: info.Type,
			ChatID: info.ChatID, UserID: info.UserID, Payload: b.JSON, Ingest: "test"}
		_, err = h.q.Enqueue(context.Background(), e)
		require.NoError(t, err, b.Name)
	}
	h.start(0, 1)
	h.eventually("every update dispatched", func() bool {
		return h.log.count("DISPATCH_OK", 0) == len(bodies) && h.drained(0)
	})

	require.Empty(t, h.log.events("DEAD_LETTERED"))
	require.Len(t, h.log.events("DISPATCH_FAIL"), 1, "only the failure the handler made")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 2, calls[flaky])
	for id, payload := range payloads {
		u := seen[id]
		require.NotNil(t, u, "update %d reached the handler", id)
		require.True(t, bytes.Equal(payload, u.Raw), "update %d: the raw JSON as queued", id)
		require.EqualValues(t, id, u.Telego.UpdateID)
		require.Equal(t, 1, h.log.count("DISPATCH_OK", id))
		if refused[id] {
			require.ErrorIs(t, u.Incomplete, update.ErrUnsupported, "update %d", id)
			require.Equal(t, 1, h.log.count("DECODE_INCOMPLETE", id), "update %d: logged once", id)
		} else {
			require.NoError(t, u.Incomplete, "update %d", id)
			require.Zero(t, h.log.count("DECODE_INCOMPLETE", id))
		}
	}
	for _, ev := range h.log.events("DECODE_INCOMPLETE") {
		require.Equal(t, "UNSUPPORTED_PAYLOAD", ev["reason_code"])
		require.Equal(t, "QUEUE", ev["domain"])
		require.NotEmpty(t, ev["reason_text"])
		require.NotEmpty(t, ev["update_type"])
	}
}
