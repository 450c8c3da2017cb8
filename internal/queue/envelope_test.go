package queue

// envelopeNames are the stream entry's field names, in the order of
// appendValues, as the enqueue script writes them.
var envelopeNames = [envelopeValues]string{fCID, fUID, fType, fChat, fUser, fIngest, fPayload}

// appendFields appends the envelope as stream field/value pairs to dst, as
// the enqueue script writes them.
func (e Envelope) appendFields(dst []any) []any {
	for i, v := range e.appendValues(nil) {
		dst = append(dst, envelopeNames[i], v)
	}
	return dst
}
