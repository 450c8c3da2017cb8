// Package update is the one place that knows what a Telegram update is:
// its kinds (the taxonomy: type, chat, user), what ingest reads of a body
// and how dispatch decodes it.
//
// Two steps, on two sides of the queue:
//   - Scan (ingest, on every webhook request): reads update_id, the type,
//     the chat and the user from the raw JSON in one pass, validating the
//     body but decoding nothing else and allocating nothing. Any JSON
//     object with an integer update_id ≥ 0 is an update; whatever else it
//     holds, known or not, is accepted and queued byte for byte.
//   - Decode (dispatch, once per update): decodes the queued body into a
//     telego.Update. When telego cannot decode all of it (a type-deciding
//     field with a value newer than telego, such as a new reaction type,
//     message origin or boost source; a field whose shape changed), the
//     parts it cannot decode are left out, down to the smallest member or
//     list element that fails, and everything else is decoded; the
//     Update says what was left out (Incomplete). The raw JSON goes along,
//     for kinds no handler knows.
//
// Guarantees:
//   - Scan accepts a body exactly when it is a JSON object whose
//     update_id is an integer from 0 to 2^63-1 (encoding/json's syntax,
//     nesting limit included), and Decode then never fails for it.
//   - Scan and Decode agree on the type: both come from the same table.
//   - Decode's Telego is never nil and its UpdateID is the update's.
//
// Not guaranteed: what telego cannot decode is dropped whole at the level
// of the member or element that fails (a reaction of a new type drops that
// reaction, not the update; an unknown chat member status drops the
// member change, which cannot be decoded without it). Pruning is bounded
// in depth and in work (a body of thousands of failing parts is decoded in
// a fraction of a second); past the bound, what fails is dropped whole.
// What nests deeper than 64 levels is left out before decoding: telego's
// decoders take time that grows with the square of the nesting of
// messages. Importing this package makes telego decode with encoding/json's
// semantics, through go-json-experiment's v1 package (telego.go says why).
package update
