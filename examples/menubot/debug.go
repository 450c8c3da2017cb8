package menubot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
)

var (
	errNoJournal = errors.New("menubot: no event journal configured")
	errNoDebug   = errors.New("menubot: no debug switch configured")
)

// Limits of what /debug shows.
const (
	debugCIDs    = 3    // cids shown by /debug USER_ID
	maxChainLen  = 40   // events shown per chain
	maxDebugText = 4000 // Telegram's limit is 4096 characters
	debugSpan    = 30 * time.Minute
)

// Fields of an event the panel shows (CONTRACT §5), in this order.
var panelFields = []string{"reason_code", "expected_state", "actual_state", "next_screen", "screen_id", "button_id",
	"handler", "original_cid"}

// onDebug shows the panel (/debug) or a user's last cids with their
// chains (/debug USER_ID). The router has already refused non-admins.
func (b *Bot) onDebug(c *dispatcher.Context) error {
	_, args := c.Command()
	if args == "" {
		kb, ids, err := ui.Build(ui.DebugPanel, 0, [][]ui.Button{
			{{ID: ui.BtnDebugOn30, Label: labelDebugOn30}, {ID: ui.BtnDebugShowLastCID, Label: labelDebugLast}},
			{{ID: ui.BtnDebugClose, Label: labelDebugClose}},
		})
		if err != nil {
			return err
		}
		c.DebugPanelShown(c.UserID())
		c.Accept(ui.DebugPanel)
		return b.present(c, ui.DebugPanel, textDebugPanel, kb, ids)
	}
	uid, err := strconv.ParseInt(strings.TrimSpace(args), 10, 64)
	if err != nil || uid <= 0 {
		c.Reject(dispatcher.ReasonValidationFailed, textDebugUsage)
		return nil
	}
	j := c.Journal()
	if j == nil {
		c.Reject(dispatcher.ReasonDBError, textNoJournal, dispatcher.Cause(errNoJournal))
		return nil
	}
	// more than shown: resends are one line each and do not count
	cids, err := j.LastCIDs(uid, 3*debugCIDs)
	if err != nil {
		return b.journalFailed(c, err)
	}
	text := fmt.Sprintf(textNoCIDs, uid)
	if len(cids) > 0 {
		if text, err = b.chains(j, cids, debugCIDs, uid); err != nil {
			return b.journalFailed(c, err)
		}
	}
	// the admin looks into a report: the user's next chains are kept in full
	if b.debugUser(j, uid) {
		text = fitText(text + "\n\n" + fmt.Sprintf(textUserDebug, uid, int(debugSpan.Minutes())))
	}
	c.DebugPanelShown(uid)
	c.Accept(ui.DebugPanel)
	_, err = c.Reply(text, nil)
	return telegramFailed(c, err)
}

// onDebugOn30 switches every instance to debug logging for 30 minutes.
func (b *Bot) onDebugOn30(c *dispatcher.Context) error {
	if !c.HasDebugSwitch() {
		c.Reject(dispatcher.ReasonDBError, textNoDebugSetter, dispatcher.Cause(errNoDebug))
		return nil
	}
	until, err := c.EnableDebug(debugSpan) // logs DEBUG_MODE_CHANGED
	if err != nil {
		return b.journalFailed(c, err)
	}
	if j := c.Journal(); j != nil {
		b.debugUser(j, c.UserID())
	} // the admin reproduces the problem: their chains are kept in full
	c.Accept(ui.DebugPanel)
	_ = c.Answer(fmt.Sprintf(textDebugOn, until.UTC().Format("15:04 UTC")))
	return nil
}

// onDebugLastCID shows the admin's last cid before this click, with its
// chain.
func (b *Bot) onDebugLastCID(c *dispatcher.Context) error {
	j := c.Journal()
	if j == nil {
		c.Reject(dispatcher.ReasonDBError, textNoJournal, dispatcher.Cause(errNoJournal))
		return nil
	}
	cids, err := j.LastCIDs(c.UserID(), debugCIDs)
	if err != nil {
		return b.journalFailed(c, err)
	}
	var last []string
	for _, cid := range cids {
		if cid != c.CID() {
			last = []string{cid}
			break
		}
	}
	text := fmt.Sprintf(textNoCIDs, c.UserID())
	if len(last) > 0 {
		if text, err = b.chains(j, last, 1, c.UserID()); err != nil {
			return b.journalFailed(c, err)
		}
	}
	c.Accept(ui.DebugPanel)
	_ = c.Answer("")
	_, err = c.Reply(text, nil)
	return telegramFailed(c, err)
}

// onDebugClose removes the panel's buttons.
func (b *Bot) onDebugClose(c *dispatcher.Context) error {
	c.Accept(ui.Closed)
	_ = c.Answer("")
	if _, msg, ok := c.SourceMessage(); ok {
		return telegramFailed(c, c.Edit(msg, textDebugClosed, nil))
	}
	return nil
}

// journalFailed ends a dispatch whose journal or debug-flag call failed.
func (b *Bot) journalFailed(c *dispatcher.Context, err error) error {
	if c.Err() != nil {
		return err
	}
	c.Reject(dispatcher.ReasonDBError, dispatcher.TextServerError, dispatcher.Cause(err))
	return nil
}

// debugUser puts user in the journal's debug mode for debugSpan, when the
// journal has one; a failure is logged and changes nothing else.
func (b *Bot) debugUser(j *dispatcher.Journal, user int64) bool {
	_, ok, err := j.DebugUser(user, debugSpan) // a failure is logged there and changes nothing else
	return ok && err == nil
}

// chains formats the chains of the first limit cids of user (newest
// first), within Telegram's limit, saying plainly what the journal did not
// keep. A resend (a chain that is one DUPLICATE_UPDATE naming the
// original's cid) is a line naming the original, whose chain is shown in
// its place unless it is shown already: the resend's own chain says
// nothing about what happened to the click.
func (b *Bot) chains(j *dispatcher.Journal, cids []string, limit int, user int64) (string, error) {
	var sb strings.Builder
	shown := map[string]bool{}
	for _, cid := range cids {
		if len(shown) == limit {
			break
		}
		if shown[cid] {
			continue
		}
		evs, err := j.Chain(cid)
		if err != nil {
			return "", err
		}
		if orig := dispatcher.DuplicateOf(evs); orig != "" {
			if sb.Len() > 0 {
				sb.WriteString("\n")
			}
			fmt.Fprintf(&sb, textResendOf, cid, orig)
			if shown[orig] {
				continue
			}
			cid = orig
			if evs, err = j.Chain(cid); err != nil {
				return "", err
			}
		} else if sb.Len() > 0 {
			sb.WriteString("\n")
		}
		shown[cid] = true
		note, err := j.NotKept(cid, user)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "cid %s (%d events)\n", cid, len(evs))
		for j, ev := range evs {
			if j == maxChainLen {
				fmt.Fprintf(&sb, "… %d more\n", len(evs)-j)
				break
			}
			sb.WriteString(formatEvent(ev))
			sb.WriteByte('\n')
		}
		if note != "" {
			sb.WriteString("⚠ " + note + "\n")
		}
	}
	return fitText(strings.TrimRight(sb.String(), "\n")), nil
}

// fitText cuts text to Telegram's limit.
func fitText(text string) string {
	if r := []rune(text); len(r) > maxDebugText {
		text = string(r[:maxDebugText-1]) + "…"
	}
	return text
}

// formatEvent writes one event as "15:04:05.000 NAME instance key=value":
// the fields that explain an outcome (for a rejection its reason and the
// expected and actual states, so that the panel alone explains a
// STATE_MISMATCH), then where it went.
func formatEvent(ev dispatcher.JournalEvent) string {
	ts := ev.TS()
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.UTC().Format("15:04:05.000")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s %s", ts, ev.Name(), ev.Instance())
	for _, k := range panelFields {
		if v := ev.Str(k); v != "" {
			fmt.Fprintf(&sb, " %s=%s", k, v)
		}
	}
	return sb.String()
}
