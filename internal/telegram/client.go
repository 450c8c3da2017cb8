package telegram

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// SandboxToken is a token of valid shape for sandbox mode and tests, where
// the Bot API is the built-in fake.
const SandboxToken = "123456789:SANDBOX-not-a-real-token-0000000000"

// AllowedUpdates returns the update types the bot's handlers take, for
// setWebhook's allowed_updates.
func AllowedUpdates() []string { return []string{"message", "callback_query", "business_message"} }

// Config configures a Client.
type Config struct {
	Token  string // BOT_TOKEN (or SandboxToken); never logged
	APIURL string // TELEGRAM_API_URL, default https://api.telegram.org
	Log    *telemetry.Logger
	// Metrics counts requests and errors; nil uses a private registry.
	Metrics *metrics.Metrics
	// HTTPClient makes the calls; nil uses a client with a 60 s timeout
	// (the context's deadline is the real bound).
	HTTPClient *http.Client
	// Limits for the limiter; the zero value means DefaultLimits().
	Limits Limits
	// NoLimits switches the limiter off (tests that measure nothing else).
	NoLimits bool
	// MaxRetryWait bounds the total wait between attempts of one call
	// (default 10 s); the context's deadline bounds it too.
	MaxRetryWait time.Duration
	// RetryBackoff is the first wait after a 5xx or a transport failure,
	// doubled per attempt (default 200 ms).
	RetryBackoff time.Duration
	// RetryAttempts bounds the attempts after 5xx and transport failures
	// (default 4), except for answerCallbackQuery, which is retried within
	// MaxRetryWait and the deadline only.
	RetryAttempts int
	// Now is the limiter's clock (default time.Now).
	Now func() time.Time
}

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("telegram: bad config")

// Client is the Bot API client of the bot. It is safe for concurrent use.
type Client struct {
	bot     *telego.Bot
	log     *telemetry.Logger
	limiter *Limiter
	caller  *caller
	base    string // APIURL + "/bot" + Token: the prefix of a method's URL (never logged)
}

// New returns a Client. The token must have the shape telego accepts.
func New(cfg Config) (*Client, error) {
	if cfg.Log == nil {
		return nil, errors.Join(ErrConfig, errors.New("telegram: Log is required"))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewTest()
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.telegram.org"
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 10 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.RetryAttempts <= 0 {
		cfg.RetryAttempts = 4
	}
	var lim *Limiter
	if !cfg.NoLimits {
		l := cfg.Limits
		if l == (Limits{}) {
			l = DefaultLimits()
		}
		lim = NewLimiter(l, cfg.Now)
	}
	repl := []string{}
	if cfg.Token != "" {
		repl = append(repl, cfg.Token, "[REDACTED]")
	}
	c := &caller{
		http: cfg.HTTPClient, redact: strings.NewReplacer(repl...), log: cfg.Log, metrics: cfg.Metrics,
		limiter: lim, maxWait: cfg.MaxRetryWait, backoff: cfg.RetryBackoff, attempts: cfg.RetryAttempts,
	}
	bot, err := telego.NewBot(cfg.Token, telego.WithAPIServer(cfg.APIURL), telego.WithAPICaller(c),
		telego.WithLogger(quietLogger{}))
	if err != nil {
		// telego's errors name the problem, never the token
		return nil, errors.Join(ErrConfig, err)
	}
	return &Client{bot: bot, log: cfg.Log, limiter: lim, caller: c, base: cfg.APIURL + "/bot" + cfg.Token}, nil
}

// Bot returns the telego bot, for calls this type has no method for. Its
// calls go through the same caller (retries, limiter, redaction).
func (c *Client) Bot() *telego.Bot { return c.bot }

// Limiter returns the client's limiter (nil when switched off).
func (c *Client) Limiter() *Limiter { return c.limiter }

// Send sends a text message with an optional inline keyboard to a chat
// (SendTo for a topic or a business connection).
func (c *Client) Send(ctx context.Context, chatID int64, text string, kb *telego.InlineKeyboardMarkup) (*telego.Message, error) {
	return c.SendTo(ctx, Target{ChatID: chatID}, text, kb)
}

// Edit replaces a message's text and inline keyboard (nil removes it). An
// edit that changes nothing counts as done.
func (c *Client) Edit(ctx context.Context, chatID int64, messageID int, text string, kb *telego.InlineKeyboardMarkup) error {
	return c.EditIn(ctx, Target{ChatID: chatID}, messageID, text, kb)
}

// AnswerCallback answers a callback query with text (may be empty) and
// logs ANSWER_CALLBACK_QUERY. Under a TrackAnswers context it answers each
// query at most once and returns ErrAlreadyAnswered for a second answer
// while one is in flight or after one succeeded; after a failed answer
// (logged as TELEGRAM_API_ERROR) the query counts as unanswered.
func (c *Client) AnswerCallback(ctx context.Context, queryID, text string) error {
	tracked := answersFrom(ctx)
	if !tracked.claim(queryID) {
		return ErrAlreadyAnswered
	}
	err := c.bot.AnswerCallbackQuery(ctx, &telego.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: text})
	tracked.settle(queryID, text, err == nil)
	if err != nil {
		return err
	}
	c.log.AnswerCallbackQuery(ctx, text)
	return nil
}

// quietLogger replaces telego's logger: telego's debug lines carry the
// request URL, which holds the token, and its error lines repeat what the
// caller already logged as TELEGRAM_API_ERROR.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Errorf(string, ...any) {}
