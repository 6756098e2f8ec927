package sockjs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendQuoted(t *testing.T) {
	for _, tc := range []struct {
		in     string
		script bool
		want   string
	}{
		{"", false, `""`},
		{"plain", false, `"plain"`},
		{"a\"b\\c", false, `"a\"b\\c"`},
		{"\n\r\t\x00\x1f\x7f", false, `"\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"é€😀", false, `"é€😀"`},
		{"\u200b\u200c\u200f\u2010\u2028\u202f\u2030\u2060\u206f\u2070", false, "\"\u200b\\u200c\\u200f\u2010\\u2028\\u202f\u2030\\u2060\\u206f\u2070\""},
		{"\ufeff\uffef\ufff0\ufffd\uffff", false, "\"\ufeff\uffef\\ufff0\\ufffd\\uffff\""},
		{"a\xffb\xc3", false, `"a\ufffdb\ufffd"`},
		{"</script>", false, `"</script>"`},
		{"</script>", true, `"\u003c/script>"`},
	} {
		if got := string(appendQuoted([]byte("x"), []byte(tc.in), tc.script)); got != "x"+tc.want {
			t.Errorf("appendQuoted(%q, %v) = %s, want %s", tc.in, tc.script, got, tc.want)
		}
	}
}

func TestAppendCloseFrame(t *testing.T) {
	if got := string(appendCloseFrame(nil, 3000, `Go "away"!`)); got != `c[3000,"Go \"away\"!"]` {
		t.Errorf("close frame %s", got)
	}
}

func TestReader(t *testing.T) {
	rd := newReader()
	for _, tc := range []struct {
		in     string
		single bool
		want   []string // nil: refused
	}{
		{`["a","b"]`, false, []string{"a", "b"}},
		{` [ "a" , "\u00e9\ud83d\ude00\n" ] `, false, []string{"a", "é😀\n"}},
		{`[]`, false, []string{}},
		{`"a"`, true, []string{"a"}},
		{`"a"`, false, nil},
		{`["a"`, false, nil},
		{`[1]`, false, nil},
		{`[["a"]]`, false, nil},
		{`{"a":"b"}`, true, nil},
		{`["\ud800"]`, false, nil},
		{"[\"\xff\"]", false, nil},
		{`["a"] x`, false, nil},
		{``, true, nil},
	} {
		v, ok := rd.read([]byte(tc.in), tc.single)
		if ok != (tc.want != nil) {
			t.Errorf("read(%q): ok %v", tc.in, ok)
			continue
		}
		if !ok {
			continue
		}
		got := []string{}
		each(v, func(m []byte) bool { got = append(got, string(m)); return true })
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("read(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzFrame: whatever a client sends, the reader refuses it or returns
// strings of valid UTF-8 that, quoted again as the server sends them,
// decode as JSON to the same strings; and quoting any bytes gives one
// JSON string in which nothing the protocol has servers escape is left
// as it was.
func FuzzFrame(f *testing.F) {
	for _, s := range []string{`["a","b"]`, `"x"`, `[]`, `["\u2028\u0000é"]`, `["\ud83d\ude00"]`, "[\"\xe2\x80\xa8\"]", `[1,2]`, `["a"`} {
		f.Add([]byte(s), true)
	}
	rd := newReader()
	f.Fuzz(func(t *testing.T, frame []byte, single bool) {
		quoted := appendQuoted(nil, frame, false)
		var back string
		if err := json.Unmarshal(quoted, &back); err != nil {
			t.Fatalf("appendQuoted(%q) = %s: not a JSON string: %v", frame, quoted, err)
		}
		if want := string([]rune(string(frame))); back != want { // each byte that is not UTF-8 a U+FFFD
			t.Fatalf("appendQuoted(%q) decodes to %q", frame, back)
		}
		for _, r := range string(quoted) {
			if mangled(r) || r < 0x20 {
				t.Fatalf("appendQuoted(%q) = %s leaves %U as it is", frame, quoted, r)
			}
		}
		if script := appendQuoted(nil, frame, true); bytes.IndexByte(script, '<') >= 0 {
			t.Fatalf("a '<' in a script's string: %s", script)
		}

		v, ok := rd.read(frame, single)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal(frame, &want); err != nil {
			var one string
			if !single || json.Unmarshal(frame, &one) != nil {
				t.Fatalf("read took %q, which is no array of strings: %v", frame, err)
			}
			want = []string{one}
		}
		i := 0
		each(v, func(m []byte) bool {
			if !utf8.Valid(m) {
				t.Fatalf("read(%q): message %q is not UTF-8", frame, m)
			}
			if i >= len(want) || string(m) != want[i] {
				t.Fatalf("read(%q): message %d is %q, want %q", frame, i, m, want)
			}
			i++
			return true
		})
		if i != len(want) {
			t.Fatalf("read(%q): %d messages, want %d", frame, i, len(want))
		}
	})
}
