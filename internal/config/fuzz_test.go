package config

import (
	"errors"
	"strings"
	"testing"
)

// validBase is an environment that validates: every fuzzed value is set on
// top of it, so that an error can only come from that value.
var validBase = map[string]string{
	"BOT_TOKEN": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789", "WEBHOOK_SECRET": "s3cret",
	"TELEGRAM_API_URL": "http://127.0.0.1:8081", "REDIS_URL": "redis://127.0.0.1:6379/0",
}

// FuzzFromEnv sets one variable to any text: FromEnv and Validate never
// panic, every error is a one-line *Error naming a known variable
// (errors.Is ErrInvalid), an error from FromEnv names the variable that was
// set, and a secret's value is never echoed.
func FuzzFromEnv(f *testing.F) {
	for i := range Vars() {
		for _, val := range []string{"", "0", "-1", "1s", "10ms", "true", "maybe", "redis://u:p@h:1/2", "rediss://h",
			"http://x", ":8080", "/webhook", "1,2,x", "{ns}", "12345:abc", "9223372036854775808", "5m1s", "\x00\n"} {
			f.Add(uint8(i), val)
		}
	}
	known := map[string]bool{}
	for _, v := range Vars() {
		known[v.Env] = true
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		v := Vars()[int(which)%len(Vars())]
		if v.Secret {
			value = "Zq9" + value // a prefix no error text holds, so an echo is certain
		}
		env := map[string]string{}
		for k, val := range validBase {
			env[k] = val
		}
		env[v.Env] = value
		c, err := FromEnv(func(k string) (string, bool) { val, ok := env[k]; return val, ok })
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s=%q: FromEnv error %T %v is not a *config.Error", v.Env, value, err, err)
			}
			if ce.Var != v.Env {
				t.Fatalf("%s=%q: error names %s: %v", v.Env, value, ce.Var, err)
			}
			checkText(t, v, value, err)
			return
		}
		if err := c.Validate(); err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) || !known[ce.Var] {
				t.Fatalf("%s=%q: Validate error %T %v does not name a variable", v.Env, value, err, err)
			}
			checkText(t, v, value, err)
		}
	})
}

func checkText(t *testing.T, v Var, value string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("%s=%q: error is not one line: %q", v.Env, value, msg)
	}
	if v.Secret && strings.Contains(msg, value) {
		t.Fatalf("%s: the secret value is echoed: %q", v.Env, msg)
	}
}
