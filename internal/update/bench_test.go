package update

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
)

// benchBodies are the fixtures, compact as Telegram sends them: what
// ingest reads on every webhook request.
func benchBodies(b *testing.B) [][]byte {
	files, err := filepath.Glob(filepath.Join(updatetest.Dir(updatetest.Fixtures), "*.json"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	var size int64
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, body); err != nil {
			b.Fatal(err)
		}
		out = append(out, c.Bytes())
		size += int64(c.Len())
	}
	b.SetBytes(size / int64(len(out)))
	return out
}

// BenchmarkScan is ingest's read of an update (type, chat, user): it must
// not allocate.
func BenchmarkScan(b *testing.B) {
	bodies := benchBodies(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Scan(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTelegoUnmarshal is what ingest did before Scan: a full decode
// into telego.Update.
func BenchmarkTelegoUnmarshal(b *testing.B) {
	bodies := benchBodies(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var u telego.Update
		if err := json.Unmarshal(bodies[i%len(bodies)], &u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is dispatch's decode of an update telego decodes fully.
func BenchmarkDecode(b *testing.B) {
	bodies := benchBodies(b)
	infos := make([]Info, len(bodies))
	for i, body := range bodies {
		infos[i], _ = Scan(body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(bodies[i%len(bodies)], infos[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIncomplete is dispatch's decode of an update telego
// refuses (a reaction of a new type): the pruning path.
func BenchmarkDecodeIncomplete(b *testing.B) {
	body, err := os.ReadFile("testdata/telego-refuses/message_reaction_new_type.json")
	if err != nil {
		b.Fatal(err)
	}
	info, err := Scan(body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if u, _ := Decode(body, info); u.Incomplete == nil {
			b.Fatal("decoded fully")
		}
	}
}
