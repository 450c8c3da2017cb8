package telemetry

import (
	"bytes"
	"fmt"
	"time"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// encoderConfig puts the event name in `name` and the time in `ts` with
// millisecond precision (RFC 3339).
func encoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		TimeKey:        FTS,
		LevelKey:       FLevel,
		MessageKey:     FName,
		LineEnding:     "\n",
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     encodeTime,
		EncodeDuration: zapcore.MillisDurationEncoder,
	}
}

const tsLayout = "2006-01-02T15:04:05.000Z07:00"

func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format(tsLayout))
}

// newEncoder returns the encoder of a LOG_FORMAT, wrapped so that secrets
// never reach the output.
func newEncoder(format string, secrets []string) (zapcore.Encoder, error) {
	var enc zapcore.Encoder
	switch format {
	case "", "json":
		enc = zapcore.NewJSONEncoder(encoderConfig())
	case "kv":
		enc = newKVEncoder(encoderConfig())
	default:
		return nil, fmt.Errorf("telemetry: unknown log format %q", format)
	}
	return newRedactEncoder(enc, secrets), nil
}

// redactEncoder replaces every secret in an encoded line with [REDACTED].
// It works on the final bytes, so it covers messages, fields and errors of
// any origin (the HTTP client's, telego's, Redis').
type redactEncoder struct {
	zapcore.Encoder
	secrets [][]byte
}

var redacted = []byte("[REDACTED]")

func newRedactEncoder(enc zapcore.Encoder, secrets []string) zapcore.Encoder {
	var s [][]byte
	for _, v := range secrets {
		if v != "" {
			s = append(s, []byte(v))
		}
	}
	if len(s) == 0 {
		return enc
	}
	return &redactEncoder{Encoder: enc, secrets: s}
}

func (r *redactEncoder) Clone() zapcore.Encoder {
	return &redactEncoder{Encoder: r.Encoder.Clone(), secrets: r.secrets}
}

func (r *redactEncoder) EncodeEntry(e zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	buf, err := r.Encoder.EncodeEntry(e, fields)
	if err != nil {
		return buf, err
	}
	b := buf.Bytes()
	for _, s := range r.secrets {
		if bytes.Contains(b, s) {
			b = bytes.ReplaceAll(b, s, redacted)
		}
	}
	if len(b) != buf.Len() || !bytes.Equal(b, buf.Bytes()) {
		out := bufferPool.Get()
		_, _ = out.Write(b)
		buf.Free()
		return out, nil
	}
	return buf, nil
}

var bufferPool = buffer.NewPool()
