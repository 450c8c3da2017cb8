package update

import (
	"encoding/json"

	"github.com/mymmrac/telego"
)

// telego's own decoder (grbit/go-json) takes time exponential in the
// nesting of messages when a nested part fails to decode: a 2 kB update
// with 25 nested reply_to_message and an unknown forward_origin at the
// bottom keeps a CPU busy for hours. encoding/json decodes the same body in
// microseconds and supports what telego needs (an interface field that
// holds a typed pointer decodes into it). So every decode telego makes in
// this process (updates, and Bot API results) goes through encoding/json.
// SetJSONUnmarshal is not safe while a bot runs: package initialization
// runs before any.
func init() { telego.SetJSONUnmarshal(json.Unmarshal) }
