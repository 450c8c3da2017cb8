package main

import (
	"fmt"
	"io"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/webhookcheck"
)

// writeDeployment writes the line of the deployment's recorded mode and bot.
func writeDeployment(w io.Writer, st inspect.Status) {
	d := st.Deployment
	if d == nil {
		fmt.Fprintln(w, "deployment: no mode recorded yet (the first instance of this version records it)")
		return
	}
	bot := "no bot id"
	if d.BotID != 0 {
		bot = fmt.Sprintf("bot %d", d.BotID)
	}
	since := ""
	if !d.RecordedAt.IsZero() {
		since = " at " + d.RecordedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "deployment: mode %s, %s (recorded%s; an instance of another mode or bot refuses to start)\n", d.Mode, bot, since)
}

// writeWebhookCheck writes the webhook as Telegram last described it
// (nothing when no check is stored).
func writeWebhookCheck(w io.Writer, r *webhookcheck.Report) {
	if r == nil {
		return
	}
	age := time.Since(r.CheckedAt).Truncate(time.Second)
	if r.Error != "" {
		fmt.Fprintf(w, "\nwebhook (getWebhookInfo by %s, %s ago): could not ask Telegram: %s\n", r.Instance, age, r.Error)
		return
	}
	match := "matches"
	if !r.URLMatch {
		match = "DOES NOT MATCH"
		if r.WantURL != "" {
			match += " WEBHOOK_URL " + r.WantURL
		}
	}
	fmt.Fprintf(w, "\nwebhook (getWebhookInfo by %s, %s ago): url %s (%s), %d pending update(s)", r.Instance, age, dash(r.URL), match, r.Pending)
	if r.LastErrorDate > 0 {
		at := time.Unix(r.LastErrorDate, 0).UTC()
		fmt.Fprintf(w, ", last error %s ago (%s): %s", time.Since(at).Truncate(time.Second), r.LastErrorReason, r.LastErrorMessage)
	} else {
		fmt.Fprint(w, ", no delivery error")
	}
	fmt.Fprintln(w)
}
