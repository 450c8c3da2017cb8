package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap/buffer"
)

// DecodeEvent decodes one journal line (a JSON object) with numbers kept
// exact as json.Number.
func DecodeEvent(line []byte) (JournalEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var e JournalEvent
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("telemetry: decode journal line: %w", err)
	}
	if e == nil {
		return nil, fmt.Errorf("telemetry: decode journal line: not an object")
	}
	return e, nil
}

// SortEvents orders events oldest first by ts; events with the same ts
// keep their order.
func SortEvents(events []JournalEvent) {
	type timed struct {
		t time.Time
		e JournalEvent
	}
	ts := make([]timed, len(events))
	for i, e := range events {
		ts[i] = timed{e.Time(), e}
	}
	slices.SortStableFunc(ts, func(a, b timed) int { return a.t.Compare(b.t) })
	for i := range ts {
		events[i] = ts[i].e
	}
}

// traceCommon are the fields shown as columns or in the header, not among
// the details.
var traceCommon = map[string]bool{
	FTS: true, FLevel: true, FName: true, FInstance: true, FRole: true, FDomain: true,
	FCID: true, FUpdateID: true, FUserID: true, FChatID: true,
}

// traceOrder puts the fields that explain an outcome first in DETAILS; the
// rest follow sorted by key.
var traceOrder = []string{
	FReasonCode, FReasonText, FExpectedState, FActualState,
	FScreenID, FButtonIDs, FNextScreen, FButtonID, FHandler, FCallbackData, FText, FCommand, FTextLength,
	FParamName, FValue, FHintToUser,
	FUpdateType, FShard, FToken, FQueueDepth, FStreamID, FWorkerID, FDelivery, FWaitMS, FDurationMS,
	FErrorType, FErrorText, FMethod, FStatus, FRetryAfter, FError, FJobID, FMsg,
}

// WriteTrace writes the chain of one cid oldest first: with asJSON one JSON
// object a line (the journal's fields, keys sorted), else a header line
// (cid, update_id, user_id, chat_id, event and instance counts) and a table
// with the columns TS, +MS (since the first event), INSTANCE, ROLE, DOMAIN,
// EVENT and DETAILS (the event's own fields as key=value, reasons first).
// Every value is escaped as in the kv format, so the text of an event
// cannot forge a row. It returns ErrNoEvents, writing nothing, when events
// is empty.
func WriteTrace(w io.Writer, events []JournalEvent, asJSON bool) error {
	if len(events) == 0 {
		return ErrNoEvents
	}
	events = slices.Clone(events)
	SortEvents(events)
	if asJSON {
		for _, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("telemetry: encode event: %w", err)
			}
			if _, err := w.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
	}

	buf := bufferPool.Get()
	defer buf.Free()
	first := events[0]
	var instances []string
	for _, e := range events {
		if in := e.Instance(); !slices.Contains(instances, in) {
			instances = append(instances, in)
		}
	}
	pair := func(k string, v any) {
		if buf.Len() > 0 {
			buf.AppendByte(' ')
		}
		buf.AppendString(k)
		buf.AppendByte('=')
		appendTraceValue(buf, v)
	}
	pair(FCID, first[FCID])
	for _, k := range []string{FUpdateID, FUserID, FChatID} {
		if v, ok := first[k]; ok {
			pair(k, v)
		}
	}
	pair("events", len(events))
	pair("instances", strings.Join(instances, ","))
	buf.AppendByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TS\t+MS\tINSTANCE\tROLE\tDOMAIN\tEVENT\tDETAILS")
	t0 := first.Time()
	for _, e := range events {
		buf.Reset()
		for _, k := range []string{FTS, "", FInstance, FRole, FDomain, FName} {
			if k == "" {
				fmt.Fprintf(buf, "+%d", e.Time().Sub(t0).Milliseconds())
			} else {
				appendTraceValue(buf, e[k])
			}
			buf.AppendByte('\t')
		}
		appendDetails(buf, e)
		buf.AppendByte('\n')
		if _, err := tw.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func appendDetails(buf *buffer.Buffer, e JournalEvent) {
	for i, k := range DetailKeys(e) {
		if i > 0 {
			buf.AppendByte(' ')
		}
		appendKVKey(buf, k)
		buf.AppendByte('=')
		appendTraceValue(buf, e[k])
	}
}

// DetailKeys returns the keys of an event's own fields (not ts, level,
// name, instance, role, domain, nor the update's identity) in the order a
// trace shows them: the fields that explain an outcome first (reason_code,
// reason_text, the states...), the rest sorted.
func DetailKeys(e JournalEvent) []string {
	var keys, rest []string
	for _, k := range traceOrder {
		if _, ok := e[k]; ok {
			keys = append(keys, k)
		}
	}
	for k := range e {
		if !traceCommon[k] && !slices.Contains(traceOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// appendTraceValue writes one value as the kv format would: bare when safe,
// else quoted; arrays joined by commas; a missing value as "-".
func appendTraceValue(buf *buffer.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		buf.AppendByte('-')
	case string:
		appendKVValue(buf, x)
	case json.Number:
		appendKVValue(buf, x.String())
	case int:
		buf.AppendInt(int64(x))
	case bool:
		buf.AppendBool(x)
	case float64:
		buf.AppendFloat(x, 64)
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprint(p)
		}
		appendKVValue(buf, strings.Join(parts, ","))
	default:
		b, _ := json.Marshal(x)
		appendKVValue(buf, string(b))
	}
}
