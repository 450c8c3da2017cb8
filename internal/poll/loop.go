package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// webhookConflictMsg is WEBHOOK_CONFLICT's advice to the operator.
const webhookConflictMsg = "getUpdates refused (409): a webhook is set for this bot, and Telegram sends updates " +
	"to it instead; run `dispatcher webhook delete` to poll (the instance retries, it never deletes the webhook itself)"

// stopped is why polling ended by itself ("" when the lease's context ended it).
type stopped struct {
	reason telemetry.Reason
	why    string
}

// poll is one term of polling under token: claim the shards, read the
// offset, then getUpdates, append, store the offset, until ctx ends (the
// lease) or a refusal shows a newer poller (reason FENCED).
func (p *Poller) poll(ctx context.Context, token int64) (telemetry.Reason, string) {
	bo := p.backoff()
	if s := p.retry(ctx, bo, func(c context.Context) error { return p.cfg.Queue.ClaimPollFence(c, token) }); s != nil {
		return s.reason, s.why
	}
	var offset int64
	if s := p.retry(ctx, bo, func(c context.Context) error {
		var err error
		offset, err = p.loadOffset(c)
		return err
	}); s != nil {
		return s.reason, s.why
	}
	for ctx.Err() == nil {
		batch, err := p.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			p.sleep(ctx, p.telegramFailed(err, bo))
			continue
		}
		if len(batch) == 0 {
			bo.reset()
			if p.cfg.Timeout == 0 {
				p.sleep(ctx, p.cfg.MinBackoff) // short polling: not a tight loop
			}
			continue
		}
		next, count, refused, err := p.append(ctx, token, batch, offset)
		if lease.IsFenced(err) {
			return telemetry.ReasonFenced, "append refused: a newer poller claimed the streams"
		}
		if next > offset {
			if s := p.storeOffset(ctx, bo, token, next); s != nil {
				return s.reason, s.why
			}
			offset = next
			p.cfg.Log.PollBatch(count, offset)
		}
		if err == nil {
			bo.reset()
			continue
		}
		wait := bo.next()
		reason, why := refusal(err, refused)
		rctx := ctx
		if refused.CID != "" {
			rctx = telemetry.WithUpdate(ctx, refused)
		}
		p.cfg.Log.PollBackoff(rctx, reason, why, wait, 0, 0)
		p.sleep(ctx, wait)
	}
	return "", ""
}

// refusal names the reason of an update's refusal by Redis.
func refusal(err error, u telemetry.Update) (telemetry.Reason, string) {
	shard := strconv.Itoa(u.Shard)
	switch {
	case errors.Is(err, queue.ErrBacklogFull):
		return telemetry.ReasonBacklogFull, "backlog of shard " + shard + " is full; offset kept before it"
	case errors.Is(err, queue.ErrNotReplicated):
		return telemetry.ReasonReplicasUnavailable, "appended, not on enough replicas; offset kept before it"
	}
	return telemetry.ReasonRedisUnavailable, err.Error()
}

// getUpdates makes one long poll from offset and returns the batch, each
// update as Telegram sent it.
func (p *Poller) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, error) {
	params := struct {
		Offset         int64    `json:"offset,omitempty"`
		Limit          int      `json:"limit"`
		Timeout        int      `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, p.cfg.Limit, int(p.cfg.Timeout / time.Second), p.cfg.AllowedUpdates}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout+10*time.Second)
	defer cancel()
	raw, err := p.tg.Call(cctx, "getUpdates", params)
	if err != nil {
		return nil, err
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, &telegram.APIError{Method: "getUpdates", Status: http.StatusBadGateway,
			Description: "result is not an array of updates"}
	}
	return batch, nil
}

// telegramFailed logs a failed getUpdates and returns how long to wait.
func (p *Poller) telegramFailed(err error, bo *backoff) time.Duration {
	wait := bo.next()
	e, ok := telegram.AsAPIError(err)
	if !ok {
		p.cfg.Log.PollBackoff(context.Background(), telemetry.ReasonTelegramAPIError, err.Error(), wait, 0, 0)
		return wait
	}
	switch {
	case e.Status == http.StatusConflict && strings.Contains(strings.ToLower(e.Description), "webhook"):
		p.cfg.Log.WebhookConflict(webhookConflictMsg, wait)
		return wait
	case e.Status == http.StatusConflict:
		p.cfg.Log.PollBackoff(context.Background(), telemetry.ReasonPollConflict,
			"another getUpdates with this bot token: "+e.Description, wait, e.Status, 0)
		return wait
	case e.Status == http.StatusTooManyRequests:
		wait = max(wait, time.Duration(e.RetryAfter)*time.Second)
	}
	p.cfg.Log.PollBackoff(context.Background(), telemetry.ReasonTelegramAPIError,
		"getUpdates: "+e.Description, wait, e.Status, e.RetryAfter)
	return wait
}

// append puts batch on the streams, in order, from offset on; it stops at
// the first update Redis refuses (returned with its identity). next is the
// offset past the last update handled (appended, a duplicate or skipped),
// count how many were appended or duplicates.
//
// The appends run to their own bound, not ctx's: a batch in hand is
// finished at shutdown (the lease is renewed meanwhile), and the poll
// fence, not this instance's view of its lease, decides whether they land.
func (p *Poller) append(ctx context.Context, token int64, batch []json.RawMessage, offset int64) (next int64, count int, refused telemetry.Update, err error) {
	next = offset
	actx := context.WithoutCancel(ctx)
	for i, raw := range batch {
		id, ok := updateID(raw)
		if ok && id < offset {
			continue // confirmed already: Telegram would not send it
		}
		res, err := p.cfg.Ingest.Ingest(actx, raw, ingest.FromPoll, token)
		switch {
		case errors.Is(err, ingest.ErrNotUpdate):
			p.cfg.Log.PollSkipped(telemetry.ReasonBadPayload, skipText(id, ok, err))
		case err != nil:
			return next, count, res.Update, err
		default:
			count++
		}
		if ok {
			next = id + 1
		}
		if i == 0 && len(batch) > 1 && p.cfg.StallMidBatch > 0 {
			time.Sleep(p.cfg.StallMidBatch) // fault injection: a pause mid-batch, deaf to ctx on purpose
		}
	}
	return next, count, telemetry.Update{}, nil
}

func skipText(id int64, ok bool, err error) string {
	if !ok {
		return "an element of the batch has no update_id: " + err.Error()
	}
	return fmt.Sprintf("update %d: %v", id, err)
}

// updateID reads the update_id of one element of a batch.
func updateID(raw json.RawMessage) (int64, bool) {
	var u struct {
		UpdateID *int64 `json:"update_id"`
	}
	if json.Unmarshal(raw, &u) != nil || u.UpdateID == nil {
		return 0, false
	}
	return *u.UpdateID, true
}

// loadOffset reads the stored offset (0: none, Telegram starts from the
// oldest update it holds).
func (p *Poller) loadOffset(ctx context.Context) (int64, error) {
	v, err := p.cfg.Client.Get(ctx, p.cfg.Keys.PollOffset()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// storeOffset writes offset under token, retrying with backoff while Redis
// does not answer. It gives up when the write is fenced (reason FENCED), or
// once ctx has ended and one more try failed: the next poller then fetches
// those updates again and the dedupe drops them.
func (p *Poller) storeOffset(ctx context.Context, bo *backoff, token, offset int64) *stopped {
	for {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ingest.EnqueueTimeout)
		_, err := p.leases.RunFenced(sctx, offsetScript, 0, token, []string{p.cfg.Keys.PollOffset()}, offset)
		cancel()
		switch {
		case err == nil:
			return nil
		case lease.IsFenced(err):
			return &stopped{telemetry.ReasonFenced, "offset refused: the poll lease is no longer ours"}
		case ctx.Err() != nil:
			return &stopped{telemetry.ReasonRedisUnavailable, "offset not stored: " + err.Error()}
		}
		wait := bo.next()
		p.cfg.Log.PollBackoff(context.Background(), telemetry.ReasonRedisUnavailable, "offset not stored: "+err.Error(), wait, 0, 0)
		p.sleep(ctx, wait)
	}
}

// retry runs f until it succeeds, backing off while Redis does not answer;
// it gives up when f is fenced (reason FENCED) or ctx ends (nil reason:
// the lease ended).
func (p *Poller) retry(ctx context.Context, bo *backoff, f func(context.Context) error) *stopped {
	for {
		cctx, cancel := context.WithTimeout(ctx, ingest.EnqueueTimeout)
		err := f(cctx)
		cancel()
		switch {
		case err == nil:
			bo.reset()
			return nil
		case lease.IsFenced(err):
			return &stopped{telemetry.ReasonFenced, "refused: a newer poller claimed the streams"}
		case ctx.Err() != nil:
			return &stopped{}
		}
		wait := bo.next()
		p.cfg.Log.PollBackoff(context.Background(), telemetry.ReasonRedisUnavailable, err.Error(), wait, 0, 0)
		p.sleep(ctx, wait)
	}
}

// sleep waits d or until ctx ends.
func (p *Poller) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
