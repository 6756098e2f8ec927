package flagdoc

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPrint: entries read as flag.PrintDefaults writes them, and a default
// the usage already states is not said again.
func TestPrint(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("url", "wss://h/echo", "the server's `URL`")
	fs.String("empty", "", "no default")
	fs.Int("conns", 100, "connections")
	fs.Int("zero", 0, "0: none")
	fs.Bool("on", true, "on by default")
	fs.Bool("off", false, "off")
	fs.Duration("hold", 10*time.Second, "how long")
	fs.Int("size", 32, "message size (default 32; pubsub: 128)")
	fs.TextVar(new(slog.Level), "log-level", slog.LevelInfo, "log `level`")

	var want bytes.Buffer
	fs.SetOutput(&want)
	fs.PrintDefaults()
	var got bytes.Buffer
	fs.VisitAll(func(f *flag.Flag) { Print(&got, f) })
	// flag.PrintDefaults says the default twice for -size; Print once.
	wantText := strings.Replace(want.String(), "(default 32; pubsub: 128) (default 32)", "(default 32; pubsub: 128)", 1)
	if wantText == want.String() {
		t.Fatalf("flag.PrintDefaults no longer doubles the default:\n%s", want.String())
	}
	if got.String() != wantText {
		t.Errorf("Print wrote\n%s\nwant\n%s", got.String(), wantText)
	}
	fs.SetOutput(io.Discard)
}
