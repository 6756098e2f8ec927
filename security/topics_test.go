package security

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// repeatTokens is n tokens tok joined by dots.
func repeatTokens(tok string, n int) string {
	return strings.TrimSuffix(strings.Repeat(tok+".", n), ".")
}

// Names at the limits: 16 and 17 tokens, 128 and 129 bytes (with dots, so
// that the byte limit is not only tested on a single token).
var (
	topic16Tokens = repeatTokens("a", MaxTopicTokens)
	topic17Tokens = repeatTokens("a", MaxTopicTokens+1)
	topic128Bytes = strings.Repeat("a", MaxTopicLen)
	topic129Bytes = strings.Repeat("a", MaxTopicLen+1)
	dotted128     = strings.Repeat("abcdefg.", MaxTopicLen/8-1) + "abcdefgh" // 16 tokens, 128 bytes
	dotted129     = strings.Repeat("abcdefg.", MaxTopicLen/8-1) + "abcdefghi"
)

// validTopics and invalidTopics are the cases of TestValidTopic, and seeds
// of FuzzTopicPattern.
var validTopics = []string{
	"a", "Z", "0", "_", "-", "chat", "news.sport", "room-12.typing", "A_b-9",
	"a.b.c.d", "--.__", topic16Tokens, topic128Bytes, dotted128,
}

var invalidTopics = []string{
	"", ".", "..", "a.", ".a", "a..b", "a b", " a", "a ", "a*", "*", "a.*", ">", "a.>", "é", "aé", "a/b", "a:b",
	"a+b", "a,b", "a\x00", "a\x00b", "a\n", "\n", "a\tb", "a\x7f", "a\xff", topic17Tokens, topic129Bytes, dotted129,
}

func TestValidTopic(t *testing.T) {
	if len(topic16Tokens) > MaxTopicLen || len(dotted128) != MaxTopicLen || len(dotted129) != MaxTopicLen+1 ||
		strings.Count(dotted128, ".") != MaxTopicTokens-1 {
		t.Fatal("the test's names at the limits are not the sizes they should be")
	}
	for _, s := range validTopics {
		if !ValidTopic(s) {
			t.Errorf("ValidTopic(%q) = false; want true", s)
		}
		// A topic is also a pattern, which matches it.
		if p, err := ParseTopicPattern(s); err != nil || !p.Match(s) {
			t.Errorf("ParseTopicPattern(%q) of a valid topic: %v; or it does not match itself", s, err)
		}
	}
	for _, s := range invalidTopics {
		if ValidTopic(s) {
			t.Errorf("ValidTopic(%q) = true; want false", s)
		}
	}
	// Every byte outside the alphabet, alone and inside a name.
	for c := range 256 {
		b := byte(c)
		if b == '.' {
			continue // a separator, tested above
		}
		want := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
		for _, s := range []string{string([]byte{b}), "ab" + string([]byte{b}) + "c", "x.y" + string([]byte{b})} {
			if got := ValidTopic(s); got != want {
				t.Errorf("ValidTopic(%q) = %v; want %v", s, got, want)
			}
		}
	}
}

// badTopicPatterns are patterns ParseTopicPattern must refuse.
var badTopicPatterns = []string{
	"", ".", "a.", ".a", "a..b", "a.>.b", ">.a", ">.>", "*>", ">*", "a.b*", "a*", "a.**", "**", ">>", "a.>>",
	"a. b", "a b", "é", "a/b", "a\x00", "a\n", "a.*.>.", topic129Bytes, topic17Tokens, repeatTokens("*", MaxTopicTokens+1),
	repeatTokens("*", MaxTopicTokens) + ".>", dotted129,
}

// topicMatchCases are the cases of TestTopicPattern's match table, and seeds
// of FuzzTopicPattern.
var topicMatchCases = []struct {
	pattern, topic string
	want           bool
}{
	// Exact names.
	{"a", "a", true},
	{"a", "b", false},
	{"a", "A", false}, // case matters
	{"a", "ab", false},
	{"ab", "a", false},
	{"chat", "chat", true},
	{"news.sport", "news.sport", true},
	{"news.sport", "news.sports", false},
	{"news.sport", "news.spor", false},
	{"news.sport", "news", false},
	{"news.sport", "news.sport.live", false},
	{"news.sport", "sport.news", false},
	{topic16Tokens, topic16Tokens, true},
	{dotted128, dotted128, true},

	// "*" first.
	{"*", "a", true},
	{"*", "chat", true},
	{"*", "a.b", false},
	{"*.b", "a.b", true},
	{"*.b", "x-1.b", true},
	{"*.b", "b", false},
	{"*.b", "a.c.b", false},
	{"*.b", "a.c", false},
	{"*.b", "a.b.c", false},
	// "*" in the middle.
	{"a.*.c", "a.b.c", true},
	{"a.*.c", "a.bb.c", true},
	{"a.*.c", "a.c", false},
	{"a.*.c", "a.b.b.c", false},
	{"a.*.c", "a.b.d", false},
	{"a.*.c", "b.b.c", false},
	{"a.*.c", "a.b.c.d", false},
	// "*" last.
	{"a.*", "a.b", true},
	{"a.*", "a.a", true},
	{"a.*", "a", false},
	{"a.*", "a.b.c", false},
	{"a.*", "b.a", false},
	{"a.*", "ab", false},
	{"news.*", "news.sport", true},
	{"news.*", "news", false},
	{"news.*", "news.sport.live", false},
	// Several "*".
	{"*.*", "a.b", true},
	{"*.*", "a", false},
	{"*.*", "a.b.c", false},
	{"*.b.*", "a.b.c", true},
	{"*.b.*", "a.c.c", false},
	{repeatTokens("*", MaxTopicTokens), topic16Tokens, true},
	{repeatTokens("*", MaxTopicTokens), repeatTokens("a", MaxTopicTokens-1), false},

	// ">" alone matches every topic, single tokens included.
	{">", "a", true},
	{">", "chat", true},
	{">", "a.b", true},
	{">", "a.b.c", true},
	{">", topic16Tokens, true},
	{">", topic128Bytes, true},
	{">", dotted128, true},
	// ">" last matches one token or more.
	{"a.>", "a.b", true},
	{"a.>", "a.b.c", true},
	{"a.>", "a." + repeatTokens("x", MaxTopicTokens-1), true},
	{"a.>", "a", false},
	{"a.>", "b.a", false},
	{"a.>", "ab.c", false},
	{"a.>", "b", false},
	{"chat.>", "chat.a", true},
	{"chat.>", "chat.a.b", true},
	{"chat.>", "chat", false},
	{"chat.>", "chatroom.a", false},
	{"a.b.>", "a.b.c", true},
	{"a.b.>", "a.b", false},
	{"a.b.>", "a.c.d", false},
	{"*.>", "a.b", true},
	{"*.>", "a.b.c", true},
	{"*.>", "a", false},
	{"a.*.>", "a.b.c", true},
	{"a.*.>", "a.b", false},

	// Longer pattern than topic, longer topic than pattern.
	{"a.b.c", "a.b", false},
	{"a.b.c", "a", false},
	{"a.b", "a.b.c", false},
	{"a", "a.b.c.d", false},
	{"a.b.c.d.e", "a.b.c.d", false},
	{"a.b.c.d", "a.b.c.d.e", false},
	{"*.*.*", "a.b", false},
	{"*.*", "a.b.c", false},
}

func TestTopicPattern(t *testing.T) {
	for _, s := range badTopicPatterns {
		p, err := ParseTopicPattern(s)
		if err == nil {
			t.Errorf("ParseTopicPattern(%q) accepted, as %q", s, p)
			continue
		}
		if !strings.HasPrefix(err.Error(), "topic pattern ") {
			t.Errorf("ParseTopicPattern(%q): error %q does not name the pattern", s, err)
		}
		// What is returned with the error is the zero pattern.
		if p.String() != "" || p.Match("a") || p.Match("a.b") {
			t.Errorf("ParseTopicPattern(%q) refused, but returned %q, which matches", s, p)
		}
	}
	for _, s := range []string{"*", ">", "a.>", "*.>", "a.*.c", repeatTokens("*", MaxTopicTokens), repeatTokens("*", MaxTopicTokens-1) + ".>",
		topic16Tokens, topic128Bytes, dotted128, strings.Repeat("a", MaxTopicLen-2) + ".>"} {
		if _, err := ParseTopicPattern(s); err != nil {
			t.Errorf("ParseTopicPattern(%q): %v; want it accepted", s, err)
		}
	}

	for _, c := range topicMatchCases {
		if !ValidTopic(c.topic) {
			t.Fatalf("case %q ~ %q: the topic is not valid", c.pattern, c.topic)
		}
		p, err := ParseTopicPattern(c.pattern)
		if err != nil {
			t.Errorf("ParseTopicPattern(%q): %v", c.pattern, err)
			continue
		}
		if got := p.Match(c.topic); got != c.want {
			t.Errorf("ParseTopicPattern(%q).Match(%q) = %v; want %v", c.pattern, c.topic, got, c.want)
		}
		if got := referenceMatch(c.pattern, c.topic); got != c.want {
			t.Errorf("referenceMatch(%q, %q) = %v; want %v (the test's reference is wrong)", c.pattern, c.topic, got, c.want)
		}
		if s := p.String(); s != c.pattern {
			t.Errorf("ParseTopicPattern(%q).String() = %q", c.pattern, s)
		}
	}

	// The zero pattern matches nothing.
	var zero TopicPattern
	for _, topic := range validTopics {
		if zero.Match(topic) {
			t.Errorf("TopicPattern{}.Match(%q) = true", topic)
		}
	}
}

// referenceMatch is Match written as simply as possible: both split on
// dots, and walked token by token. pattern must parse and topic be valid.
func referenceMatch(pattern, topic string) bool {
	p, tt := strings.Split(pattern, "."), strings.Split(topic, ".")
	for i, want := range p {
		if want == ">" {
			return len(tt) > i // one token or more left
		}
		if i >= len(tt) || want != "*" && want != tt[i] {
			return false
		}
	}
	return len(p) == len(tt)
}

// referenceValidTopic is ValidTopic written from its documentation.
func referenceValidTopic(s string) bool {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
	toks := strings.Split(s, ".")
	if len(s) == 0 || len(s) > MaxTopicLen || len(toks) > MaxTopicTokens {
		return false
	}
	for _, tok := range toks {
		if tok == "" {
			return false
		}
		for i := range len(tok) {
			if !strings.ContainsRune(alphabet, rune(tok[i])) {
				return false
			}
		}
	}
	return true
}

// referenceValidPattern is what ParseTopicPattern should accept, written
// from its documentation: a topic whose tokens may be "*", and whose last
// may be ">".
func referenceValidPattern(s string) bool {
	toks := strings.Split(s, ".")
	if len(s) == 0 || len(s) > MaxTopicLen || len(toks) > MaxTopicTokens {
		return false
	}
	for i, tok := range toks {
		if tok != "*" && !(tok == ">" && i == len(toks)-1) && !referenceValidTopic(tok) {
			return false
		}
	}
	return true
}

// TestTopicPatternOracle compares Match with referenceMatch on random
// patterns and topics of a small alphabet of tokens, half of the topics
// made from the pattern so that many match.
func TestTopicPatternOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "ab", "c-1"}
	randomTopic := func() string {
		toks := make([]string, 1+r.IntN(6))
		for i := range toks {
			toks[i] = names[r.IntN(len(names))]
		}
		return strings.Join(toks, ".")
	}
	randomPattern := func() string {
		toks := make([]string, 1+r.IntN(6))
		for i := range toks {
			if r.IntN(4) == 0 {
				toks[i] = "*"
			} else {
				toks[i] = names[r.IntN(len(names))]
			}
		}
		if r.IntN(3) == 0 {
			toks[len(toks)-1] = ">"
		}
		return strings.Join(toks, ".")
	}
	// instance is a topic pattern matches: its wildcards filled in.
	instance := func(pattern string) string {
		var toks []string
		for tok := range strings.SplitSeq(pattern, ".") {
			switch tok {
			case "*":
				toks = append(toks, names[r.IntN(len(names))])
			case ">":
				for range 1 + r.IntN(3) {
					toks = append(toks, names[r.IntN(len(names))])
				}
			default:
				toks = append(toks, tok)
			}
		}
		return strings.Join(toks, ".")
	}

	const n = 20000
	matched, mismatches := 0, 0
	for range n {
		pattern := randomPattern()
		topic := randomTopic()
		if r.IntN(2) == 0 {
			topic = instance(pattern)
		}
		if !ValidTopic(topic) {
			t.Fatalf("the test made an invalid topic %q", topic)
		}
		p, err := ParseTopicPattern(pattern)
		if err != nil {
			t.Fatalf("ParseTopicPattern(%q): %v", pattern, err)
		}
		want := referenceMatch(pattern, topic)
		if got := p.Match(topic); got != want {
			t.Errorf("ParseTopicPattern(%q).Match(%q) = %v; want %v", pattern, topic, got, want)
			if mismatches++; mismatches == 10 {
				t.Fatal("stopping after 10 mismatches")
			}
		}
		if want {
			matched++
		}
	}
	// Both answers must be common, or the comparison says little.
	if matched < n/5 || matched > n*4/5 {
		t.Errorf("%d of %d cases match; the generator should give both answers often", matched, n)
	}
}

func TestTopicPatternsAllow(t *testing.T) {
	list, err := ParseTopicPatterns([]string{"news.*", "chat.>", "status"})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := ParseTopicPatterns([]string{})
	if err != nil {
		t.Fatal(err)
	}
	fromNil, err := ParseTopicPatterns(nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ParseTopicPatterns([]string{">"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		ps    TopicPatterns
		topic string
		want  bool
	}{
		{"list", list, "news.sport", true},       // the first matches
		{"list", list, "chat.a.b", true},         // the second
		{"list", list, "status", true},           // the last
		{"list", list, "news", false},            // none
		{"list", list, "news.sport.live", false}, // none
		{"list", list, "chat", false},
		{"list", list, "status.x", false},
		{"list", list, "other", false},
		{"[>]", all, "anything.at.all", true},
		{"[>]", all, "x", true},
		{"empty", empty, "a", false},
		{"empty", empty, "news.sport", false},
		{"from nil", fromNil, "a", false},
		{"nil", nil, "a", false},
		{"nil", nil, "a.b", false},
		{"zero patterns", TopicPatterns{{}, {}}, "a", false},
	} {
		if got := c.ps.Allow(c.topic); got != c.want {
			t.Errorf("%s: Allow(%q) = %v; want %v", c.name, c.topic, got, c.want)
		}
	}

	if ps, err := ParseTopicPatterns([]string{"a", "b..c", "d"}); err == nil {
		t.Errorf("ParseTopicPatterns with a bad pattern accepted: %v", ps)
	} else if ps != nil {
		t.Errorf("ParseTopicPatterns with a bad pattern returned %v with its error", ps)
	}
	if len(list) != 3 || list[0].String() != "news.*" || list[1].String() != "chat.>" || list[2].String() != "status" {
		t.Errorf("ParseTopicPatterns: %v; want the three patterns in order", list)
	}
}

func TestTopicPatternMatchAllocs(t *testing.T) {
	for _, c := range []struct{ pattern, topic string }{
		{"news.sport", "news.sport"},
		{"news.*", "news.sport"},
		{"*.b.*", "a.b.c"},
		{"chat.>", "chat.a.b.c"},
		{">", "a.b"},
		{"a.b", "a.b.c"}, // no match
	} {
		p, err := ParseTopicPattern(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Match(c.topic) }); n != 0 {
			t.Errorf("ParseTopicPattern(%q).Match(%q): %v allocations; want 0", c.pattern, c.topic, n)
		}
	}
	ps, err := ParseTopicPatterns([]string{"news.*", "chat.>"})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { ps.Allow("chat.a") }); n != 0 {
		t.Errorf("TopicPatterns.Allow: %v allocations; want 0", n)
	}
}

// FuzzTopicPattern checks ParseTopicPattern, Match and ValidTopic against
// the references above on any pattern and topic.
//
//	go test -run '^$' -fuzz '^FuzzTopicPattern$' -fuzztime 20s ./security
func FuzzTopicPattern(f *testing.F) {
	for _, c := range topicMatchCases {
		f.Add(c.pattern, c.topic)
	}
	for _, s := range badTopicPatterns {
		f.Add(s, "a")
	}
	for _, s := range validTopics {
		f.Add(s, s)
	}
	for _, s := range invalidTopics {
		f.Add(">", s)
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		for _, s := range []string{pattern, topic} {
			valid := ValidTopic(s)
			if want := referenceValidTopic(s); valid != want {
				t.Fatalf("ValidTopic(%q) = %v; want %v", s, valid, want)
			}
			if valid {
				p, err := ParseTopicPattern(s)
				if err != nil {
					t.Fatalf("ParseTopicPattern(%q), a valid topic: %v", s, err)
				}
				if !p.Match(s) {
					t.Fatalf("ParseTopicPattern(%q) does not match itself", s)
				}
			}
		}

		p, err := ParseTopicPattern(pattern)
		if want := referenceValidPattern(pattern); (err == nil) != want {
			t.Fatalf("ParseTopicPattern(%q): error %v; want it accepted: %v", pattern, err, want)
		}
		if err != nil {
			return
		}
		if s := p.String(); s != pattern {
			t.Fatalf("ParseTopicPattern(%q).String() = %q", pattern, s)
		}
		q, err := ParseTopicPattern(p.String())
		if err != nil || !slices.Equal(q.tokens, p.tokens) {
			t.Fatalf("ParseTopicPattern(%q) = %q, which parses again as %q, %v", pattern, p.tokens, q.tokens, err)
		}
		if ValidTopic(topic) {
			if got, want := p.Match(topic), referenceMatch(pattern, topic); got != want {
				t.Fatalf("ParseTopicPattern(%q).Match(%q) = %v; want %v", pattern, topic, got, want)
			}
		}
	})
}
