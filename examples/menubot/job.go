package menubot

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

// newJobID returns a job id: 12 lowercase hex characters.
func newJobID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// job builds the entry the downstream generator reads from the shard's
// jobs stream. Fields: job_id, cid, update_id, user_id, chat_id, category,
// model, prompt, params (a JSON object of parameter id → option id),
// created_at (RFC 3339, UTC).
func (b *Bot) job(c *dispatcher.Context, id string, st fsm.State, cat Category, m Model) (*fsm.Job, error) {
	params := map[string]string{}
	for _, p := range m.Params {
		params[p.ID] = st.Get(paramPrefix + p.ID)
	}
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return &fsm.Job{Fields: []string{
		"job_id", id,
		"cid", c.CID(),
		"update_id", strconv.FormatInt(c.UpdateID(), 10),
		"user_id", strconv.FormatInt(c.UserID(), 10),
		"chat_id", strconv.FormatInt(c.ChatID(), 10),
		"category", cat.ID,
		"model", m.ID,
		"prompt", st.Get(vPrompt),
		"params", string(pj),
		"created_at", b.now().UTC().Format(time.RFC3339Nano),
	}}, nil
}
