package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/examples/menubot/ui"
)

var (
	errNoJournal = errors.New("bot: no event journal configured")
	errNoDebug   = errors.New("bot: no debug switch configured")
)

// Limits of what /debug shows.
const (
	debugCIDs    = 3    // cids shown by /debug USER_ID
	maxChainLen  = 40   // events shown per chain
	maxDebugText = 4000 // Telegram's limit is 4096 characters
	debugSpan    = 30 * time.Minute
)

// onDebug shows the panel (/debug) or a user's last cids with their
// chains (/debug USER_ID). The router has already refused non-admins.
func (b *Bot) onDebug(c *router.Ctx) error {
	if c.Args == "" {
		kb, ids, err := ui.Build(ui.DebugPanel, 0, [][]ui.Button{
			{{ID: ui.BtnDebugOn30, Label: labelDebugOn30}, {ID: ui.BtnDebugShowLastCID, Label: labelDebugLast}},
			{{ID: ui.BtnDebugClose, Label: labelDebugClose}},
		})
		if err != nil {
			return err
		}
		b.log.DebugPanelShown(c, c.UserID())
		c.Accept(ui.DebugPanel)
		return b.present(c, ui.DebugPanel, textDebugPanel, kb, ids)
	}
	uid, err := strconv.ParseInt(strings.TrimSpace(c.Args), 10, 64)
	if err != nil || uid <= 0 {
		c.Reject(telemetry.ReasonValidationFailed, textDebugUsage, "", "")
		return nil
	}
	if b.journal == nil {
		c.Fail(telemetry.ReasonDBError, errNoJournal, textNoJournal)
		return nil
	}
	// more than shown: resends are one line each and do not count
	cids, err := b.journal.LastCIDs(c, uid, 3*debugCIDs)
	if err != nil {
		return b.journalFailed(c, err)
	}
	text := fmt.Sprintf(textNoCIDs, uid)
	if len(cids) > 0 {
		if text, err = b.chains(c, cids, debugCIDs, uid); err != nil {
			return b.journalFailed(c, err)
		}
	}
	// the admin looks into a report: the user's next chains are kept in full
	if b.debugUser(c, uid) {
		text = fitText(text + "\n\n" + fmt.Sprintf(textUserDebug, uid, int(debugSpan.Minutes())))
	}
	b.log.DebugPanelShown(c, uid)
	c.Accept(ui.DebugPanel)
	_, err = c.Reply(text, nil)
	return telegramFailed(c, err)
}

// onDebugOn30 switches every instance to debug logging for 30 minutes.
func (b *Bot) onDebugOn30(c *router.Ctx) error {
	if b.debug == nil {
		c.Fail(telemetry.ReasonDBError, errNoDebug, textNoDebugSetter)
		return nil
	}
	until, err := b.debug.EnableDebug(c, debugSpan)
	if err != nil {
		return b.journalFailed(c, err)
	}
	b.log.DebugModeChanged(c, true, until)
	b.debugUser(c, c.UserID()) // the admin reproduces the problem: their chains are kept in full
	c.Accept(ui.DebugPanel)
	_ = c.Answer(fmt.Sprintf(textDebugOn, until.UTC().Format("15:04 UTC")))
	return nil
}

// onDebugLastCID shows the admin's last cid before this click, with its
// chain.
func (b *Bot) onDebugLastCID(c *router.Ctx) error {
	if b.journal == nil {
		c.Fail(telemetry.ReasonDBError, errNoJournal, textNoJournal)
		return nil
	}
	cids, err := b.journal.LastCIDs(c, c.UserID(), debugCIDs)
	if err != nil {
		return b.journalFailed(c, err)
	}
	var last []string
	for _, cid := range cids {
		if cid != c.ID.CID {
			last = []string{cid}
			break
		}
	}
	text := fmt.Sprintf(textNoCIDs, c.UserID())
	if len(last) > 0 {
		if text, err = b.chains(c, last, 1, c.UserID()); err != nil {
			return b.journalFailed(c, err)
		}
	}
	c.Accept(ui.DebugPanel)
	_ = c.Answer("")
	_, err = c.Reply(text, nil)
	return telegramFailed(c, err)
}

// onDebugClose removes the panel's buttons.
func (b *Bot) onDebugClose(c *router.Ctx) error {
	c.Accept(ui.Closed)
	_ = c.Answer("")
	if _, msg, ok := c.SourceMessage(); ok {
		return telegramFailed(c, c.Edit(msg, textDebugClosed, nil))
	}
	return nil
}

// journalFailed ends a dispatch whose journal or debug-flag call failed.
func (b *Bot) journalFailed(c *router.Ctx, err error) error {
	if c.Err() != nil {
		return err
	}
	c.Fail(telemetry.ReasonDBError, err, router.TextServerError)
	return nil
}

// debugUser puts user in the journal's debug mode for debugSpan, when the
// journal has one; a failure is logged and changes nothing else.
func (b *Bot) debugUser(c *router.Ctx, user int64) bool {
	du, ok := b.journal.(telemetry.DebugUserSetter)
	if !ok {
		return false
	}
	if _, err := du.DebugUser(c, user, debugSpan); err != nil {
		b.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "cannot put a user in the journal's debug mode",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.Int64(telemetry.FTargetUserID, user),
			zap.Error(err))
		return false
	}
	return true
}

// chains formats the chains of the first limit cids of user (newest
// first), within Telegram's limit, saying plainly what the journal did not
// keep. A resend (a chain that is one DUPLICATE_UPDATE naming the
// original's cid) is a line naming the original, whose chain is shown in
// its place unless it is shown already: the resend's own chain says
// nothing about what happened to the click.
func (b *Bot) chains(ctx context.Context, cids []string, limit int, user int64) (string, error) {
	notes, _ := b.journal.(telemetry.JournalNotes)
	var sb strings.Builder
	shown := map[string]bool{}
	for _, cid := range cids {
		if len(shown) == limit {
			break
		}
		if shown[cid] {
			continue
		}
		evs, err := b.journal.Chain(ctx, cid)
		if err != nil {
			return "", err
		}
		if orig := telemetry.DuplicateOf(evs); orig != "" {
			if sb.Len() > 0 {
				sb.WriteString("\n")
			}
			fmt.Fprintf(&sb, textResendOf, cid, orig)
			if shown[orig] {
				continue
			}
			cid = orig
			if evs, err = b.journal.Chain(ctx, cid); err != nil {
				return "", err
			}
		} else if sb.Len() > 0 {
			sb.WriteString("\n")
		}
		shown[cid] = true
		note := ""
		if notes != nil {
			if note, err = notes.NotKept(ctx, cid, user); err != nil {
				return "", err
			}
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
func formatEvent(ev telemetry.JournalEvent) string {
	ts := ev.TS()
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.UTC().Format("15:04:05.000")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s %s", ts, ev.Name(), ev.Instance())
	for _, k := range []string{telemetry.FReasonCode, telemetry.FExpectedState, telemetry.FActualState,
		telemetry.FNextScreen, telemetry.FScreenID, telemetry.FButtonID, telemetry.FHandler, telemetry.FOriginalCID} {
		if v := ev.Str(k); v != "" {
			fmt.Fprintf(&sb, " %s=%s", k, v)
		}
	}
	return sb.String()
}
