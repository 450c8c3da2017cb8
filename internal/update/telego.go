package update

import (
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/mymmrac/telego"
)

// unmarshal is the JSON decoder of every decode into telego's types.
//
// telego's own decoder (grbit/go-json) takes time exponential in the
// nesting of messages when a nested part fails to decode: a 2 kB update
// with 25 nested reply_to_message and an unknown forward_origin at the
// bottom keeps a CPU busy for hours. It also differs from encoding/json
// where it matters here: it matches member names only in their exact
// case, takes integers too big for their field without an error, and
// leaves an interface field it has no type for nil without an error, so
// pruning would not see the failure. encoding/json has the semantics
// wanted (an interface field that holds a typed pointer decodes into it),
// and go-json-experiment's v1 package gives exactly those: its Unmarshal
// is encoding/json's, implemented on the encoding/json/v2 decoder (the one
// Go ships behind GOEXPERIMENT=jsonv2), with a fraction of the
// allocations and in less time. bytedance/sonic, telego's other choice,
// is faster still but compiles telego's types at run time: a second or
// more of CPU and about 60 MiB more resident memory in a worker. So every
// decode telego makes in this process (updates, and Bot API results) goes
// through jsonv1. SetJSONUnmarshal is not safe while a bot runs: package
// initialization runs before any.
var unmarshal = jsonv1.Unmarshal

func init() { telego.SetJSONUnmarshal(unmarshal) }
