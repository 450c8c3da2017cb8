package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Fixtures the reference bot does nothing with: the router takes callback
// queries and messages with text; every other update is dispatched and
// acknowledged with no Telegram call (CONTRACT §4). They make the "no-op
// handler" workload out of realistic updates.
var noopFixtures = []string{
	"edited_message.json", "channel_post.json", "message_reaction.json", "my_chat_member_blocked.json",
	"inline_query.json", "pre_checkout_query.json", "poll_no_chat_no_user.json",
}

// Sentinels written in place of the ids while building a template.
const (
	sentUpdate = "7770000000000000001"
	sentChat   = "7770000000000000002"
	sentUser   = "7770000000000000003"
	sentNChat  = "-7770000000000000004" // a group or channel chat (negative id)
)

// template is one fixture with its ids cut out: parts interleaved with
// slots.
type template struct {
	name  string
	parts [][]byte
	slots []string // sentinel of each slot, len(parts)-1
}

// Corpus makes realistic update bodies with unique update_ids spread over
// many chats.
type Corpus struct {
	templates []template
	chats     int
}

// loadCorpus reads the fixtures of dir; names nil means every *.json file.
func loadCorpus(dir string, names []string, chats int) (*Corpus, error) {
	if names == nil {
		all, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			names = append(names, filepath.Base(p))
		}
		slices.Sort(names)
	}
	c := &Corpus{chats: chats}
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		t, err := makeTemplate(n, raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		c.templates = append(c.templates, t)
	}
	if len(c.templates) == 0 {
		return nil, fmt.Errorf("no fixtures in %s", dir)
	}
	return c, nil
}

func makeTemplate(name string, raw []byte) (template, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return template{}, err
	}
	if _, ok := v["update_id"]; !ok {
		return template{}, fmt.Errorf("no update_id")
	}
	v["update_id"] = json.Number(sentUpdate)
	chats := map[string]bool{}
	collectChats(v, chats)
	rewrite(v, chats)
	out, err := json.Marshal(v)
	if err != nil {
		return template{}, err
	}
	t := template{name: name}
	rest := out
	for {
		i, which := nextSentinel(rest)
		if i < 0 {
			t.parts = append(t.parts, rest)
			break
		}
		t.parts = append(t.parts, rest[:i])
		t.slots = append(t.slots, which)
		rest = rest[i+len(which):]
	}
	return t, nil
}

func nextSentinel(b []byte) (int, string) {
	best, which := -1, ""
	// the negative one first: it contains no positive sentinel as a prefix,
	// but a positive sentinel could match inside it otherwise
	for _, s := range []string{sentNChat, sentUpdate, sentChat, sentUser} {
		if i := bytes.Index(b, []byte(s)); i >= 0 && (best < 0 || i < best) {
			best, which = i, s
		}
	}
	return best, which
}

// collectChats records the ids of every object under a "chat" or
// "sender_chat" key.
func collectChats(v any, chats map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if o, ok := c.(map[string]any); ok && (k == "chat" || k == "sender_chat") {
				if id, ok := o["id"].(json.Number); ok {
					chats[id.String()] = true
				}
			}
			collectChats(c, chats)
		}
	case []any:
		for _, c := range x {
			collectChats(c, chats)
		}
	}
}

// rewrite puts sentinels in place of chat and user ids: an id that is a
// chat's (a private chat: chat id = user id) becomes the chat sentinel.
func rewrite(v any, chats map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if o, ok := c.(map[string]any); ok {
				if id, ok := o["id"].(json.Number); ok {
					switch {
					case k == "chat" || k == "sender_chat" || chats[id.String()]:
						if strings.HasPrefix(id.String(), "-") {
							o["id"] = json.Number(sentNChat)
						} else {
							o["id"] = json.Number(sentChat)
						}
					case k == "from" || k == "user" || k == "new_chat_member" || k == "old_chat_member":
						o["id"] = json.Number(sentUser)
					}
				}
			}
			rewrite(c, chats)
		}
	case []any:
		for _, c := range x {
			rewrite(c, chats)
		}
	}
}

// Bodies makes n bodies with update_ids first..first+n-1, fixtures in
// turn, chats and users drawn from Corpus.chats with a fixed seed.
func (c *Corpus) Bodies(first int64, n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([][]byte, n)
	for i := range out {
		t := &c.templates[i%len(c.templates)]
		k := int64(rng.IntN(c.chats))
		b := make([]byte, 0, 1024)
		for j, p := range t.parts {
			b = append(b, p...)
			if j == len(t.slots) {
				break
			}
			switch t.slots[j] {
			case sentUpdate:
				b = strconv.AppendInt(b, first+int64(i), 10)
			case sentChat:
				b = strconv.AppendInt(b, 5_000_000_000+k, 10)
			case sentNChat:
				b = strconv.AppendInt(b, -1_002_000_000_000-k, 10)
			case sentUser:
				b = strconv.AppendInt(b, 6_000_000_000+k, 10)
			}
		}
		out[i] = b
	}
	return out
}

// MeanSize is the mean body size in bytes of a sample.
func (c *Corpus) MeanSize() int {
	bs := c.Bodies(1, 10*len(c.templates), 1)
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	return total / len(bs)
}

// Names lists the fixtures used.
func (c *Corpus) Names() []string {
	var out []string
	for _, t := range c.templates {
		out = append(out, strings.TrimSuffix(t.name, ".json"))
	}
	return out
}
