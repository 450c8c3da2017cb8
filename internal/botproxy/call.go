package botproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// call is one Bot API call as the bot made it: what is forwarded (the same
// query, Content-Type and body bytes) and the fields the proxy reads.
type call struct {
	method      string
	httpMethod  string // GET or POST, as the bot sent it
	query       url.Values
	rawQuery    string
	contentType string
	body        []byte   // JSON or form body, or nil
	file        *os.File // multipart body, or nil
	size        int64    // of file
	// fields read from the query and the body
	chat        string // chat_id as sent
	queryID     string // callback_query_id or inline_query_id
	text        string // answerCallbackQuery's text
	replyMarkup string // reply_markup as JSON text
}

func (c *call) close() {
	if c.file != nil {
		name := c.file.Name()
		_ = c.file.Close()
		_ = os.Remove(name)
	}
}

// bodyReader returns a fresh reader of the body (for each attempt).
func (c *call) bodyReader() (io.Reader, int64, error) {
	if c.file != nil {
		if _, err := c.file.Seek(0, io.SeekStart); err != nil {
			return nil, 0, err
		}
		return c.file, c.size, nil
	}
	if c.body == nil {
		return nil, 0, nil
	}
	return bytes.NewReader(c.body), int64(len(c.body)), nil
}

// set takes one parameter: the query's first, then the body's (the body
// wins, as Telegram reads it).
func (c *call) set(k, v string) {
	switch k {
	case "chat_id":
		c.chat = v
	case "callback_query_id", "inline_query_id":
		c.queryID = v
	case "text":
		c.text = v
	case "reply_markup":
		c.replyMarkup = v
	}
}

var errTooLarge = errors.New("botproxy: body too large")

// readCall reads a request: on failure the call is nil and status, body are
// the answer.
func (p *Proxy) readCall(r *http.Request, method string) (*call, int, string) {
	c := &call{method: method, httpMethod: r.Method, query: r.URL.Query(), rawQuery: r.URL.RawQuery, contentType: r.Header.Get("Content-Type")}
	for k, v := range c.query {
		if len(v) > 0 {
			c.set(k, v[0])
		}
	}
	if r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && r.Method == http.MethodGet) {
		return c, 0, ""
	}
	mt, params, _ := mime.ParseMediaType(c.contentType)
	var err error
	switch mt {
	case "multipart/form-data":
		err = p.readMultipart(c, r.Body, params["boundary"])
	default:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(r.Body, p.cfg.MaxBody+1))
		if err == nil && int64(len(b)) > p.cfg.MaxBody {
			err = errTooLarge
		}
		if err == nil {
			c.body = b
			switch mt {
			case "application/json":
				_ = c.parseJSON(b) // not an object: forwarded as is; Telegram answers it
			case "application/x-www-form-urlencoded":
				if form, ferr := url.ParseQuery(string(b)); ferr == nil {
					for k, v := range form {
						if len(v) > 0 {
							c.set(k, v[0])
						}
					}
				}
			}
		}
	}
	if errors.Is(err, errTooLarge) {
		c.close()
		return nil, http.StatusRequestEntityTooLarge, bodyTooLarge
	}
	if err != nil {
		c.close()
		return nil, http.StatusBadRequest, bodyBadRequest
	}
	return c, 0, ""
}

// parseJSON reads the fields of a JSON object body.
func (c *call) parseJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			c.set(k, s)
			continue
		}
		c.set(k, strings.TrimSpace(string(raw))) // a number, or reply_markup's object
	}
	return nil
}

// maxField bounds a multipart field the proxy reads (the rest of a
// longer one is forwarded, not read).
const maxField = 64 << 10

// readMultipart copies the body into a temporary file while its parts are
// parsed: the file is what is forwarded, byte for byte.
func (p *Proxy) readMultipart(c *call, body io.Reader, boundary string) error {
	f, err := os.CreateTemp(p.cfg.TempDir, "botproxy-*")
	if err != nil {
		return err
	}
	c.file = f
	lim := &limitedReader{r: body, n: p.cfg.MaxUpload + 1}
	tee := io.TeeReader(lim, f)
	if boundary != "" {
		mr := multipart.NewReader(tee, boundary)
		for {
			part, perr := mr.NextPart()
			if perr != nil {
				break // io.EOF, or a body Telegram will refuse: forwarded as is
			}
			if part.FileName() == "" {
				v, _ := io.ReadAll(io.LimitReader(part, maxField))
				c.set(part.FormName(), string(v))
			}
			_, _ = io.Copy(io.Discard, part)
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // the epilogue, or all of an unparsable body
		return err
	}
	if lim.n <= 0 {
		return errTooLarge
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	c.size = st.Size()
	return nil
}

// limitedReader is io.LimitedReader that tells when the limit was passed.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	return n, err
}

// buttons returns the callback_data of an inline keyboard in reply_markup
// (nil when it has none).
func buttons(replyMarkup string) []string {
	if replyMarkup == "" {
		return nil
	}
	var m struct {
		InlineKeyboard [][]struct {
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if json.Unmarshal([]byte(replyMarkup), &m) != nil {
		return nil
	}
	var out []string
	for _, row := range m.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData != "" {
				out = append(out, b.CallbackData)
			}
		}
	}
	return out
}
