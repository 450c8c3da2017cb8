package queue

// envelopeNames are the stream entry's field names per format, in the
// order of appendValues (after the cid of a FormatPacked entry), as the
// enqueue script writes them.
var envelopeNames = map[int][]string{
	FormatFields: {fCID, fUID, fType, fChat, fUser, fIngest, fPayload},
	FormatPacked: {fUID, fType, fHeader, fPayload},
}

// appendFields appends the envelope as stream field/value pairs to dst, as
// the enqueue script writes them in format.
func (e Envelope) appendFields(dst []any, format int) []any {
	values := e.appendValues(nil, format)
	if format == FormatPacked {
		values = values[1:] // the cid goes to the marker; the header has it
	}
	for i, v := range values {
		dst = append(dst, envelopeNames[format][i], v)
	}
	return dst
}
