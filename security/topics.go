package security

import (
	"fmt"
	"strings"
)

// Topics are the names clients subscribe and publish to. A topic is one to
// MaxTopicTokens tokens separated by dots, each token one or more ASCII
// letters, digits, '_' or '-', MaxTopicLen bytes in all: "chat",
// "news.sport", "room-12.typing". The form is the one NATS subjects take,
// without their wildcards, so a topic maps to a subject as it is.
const (
	MaxTopicLen    = 128
	MaxTopicTokens = 16
)

// ValidTopic reports whether t is a topic name.
func ValidTopic(t string) bool {
	if len(t) == 0 || len(t) > MaxTopicLen {
		return false
	}
	tokens, start := 1, 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if i == start {
				return false // an empty token
			}
			tokens++
			start = i + 1
		case !topicByte(c):
			return false
		}
	}
	return start < len(t) && tokens <= MaxTopicTokens
}

func topicByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// TopicPattern matches topic names. It is a topic name whose tokens may also
// be "*", which matches any one token, and whose last token may be ">",
// which matches one or more tokens: "news.*" matches "news.sport" but not
// "news" or "news.sport.live"; "chat.>" matches both "chat.a" and
// "chat.a.b"; ">" matches every topic.
type TopicPattern struct {
	tokens []string // "*" and ">" included
}

// ParseTopicPattern parses a pattern.
func ParseTopicPattern(s string) (TopicPattern, error) {
	if len(s) == 0 || len(s) > MaxTopicLen {
		return TopicPattern{}, fmt.Errorf("topic pattern %q: empty or longer than %d bytes", s, MaxTopicLen)
	}
	toks := strings.Split(s, ".")
	if len(toks) > MaxTopicTokens {
		return TopicPattern{}, fmt.Errorf("topic pattern %q: more than %d tokens", s, MaxTopicTokens)
	}
	for i, tok := range toks {
		switch {
		case tok == "*":
		case tok == ">":
			if i != len(toks)-1 {
				return TopicPattern{}, fmt.Errorf("topic pattern %q: '>' can only be the last token", s)
			}
		case tok == "" || !ValidTopic(tok):
			return TopicPattern{}, fmt.Errorf("topic pattern %q: token %q is not a name, '*' or '>'", s, tok)
		}
	}
	return TopicPattern{tokens: toks}, nil
}

// String returns the pattern as it was written.
func (p TopicPattern) String() string { return strings.Join(p.tokens, ".") }

// Match reports whether topic, a valid topic name, matches p. It does not
// allocate.
func (p TopicPattern) Match(topic string) bool {
	if len(p.tokens) == 0 {
		return false
	}
	rest := topic
	for i, want := range p.tokens {
		if want == ">" {
			return rest != "" || i == 0 && topic != ""
		}
		if rest == "" {
			return false
		}
		tok, after, more := strings.Cut(rest, ".")
		if want != "*" && want != tok {
			return false
		}
		if !more {
			return i == len(p.tokens)-1
		}
		rest = after
		if rest == "" {
			return false
		}
	}
	return false // topic has more tokens than p
}

// TopicPatterns is a list of patterns; a topic is allowed when one of them
// matches it. An empty list allows nothing.
type TopicPatterns []TopicPattern

// ParseTopicPatterns parses a list of patterns.
func ParseTopicPatterns(list []string) (TopicPatterns, error) {
	out := make(TopicPatterns, 0, len(list))
	for _, s := range list {
		p, err := ParseTopicPattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Allow reports whether one of ps matches topic.
func (ps TopicPatterns) Allow(topic string) bool {
	for _, p := range ps {
		if p.Match(topic) {
			return true
		}
	}
	return false
}

// TopicPermissions are the topics a client may subscribe and publish to,
// from its token's "topics" claim:
//
//	"topics": {"subscribe": ["news.*", "chat.>"], "publish": ["chat.>"]}
//
// A missing list allows nothing.
type TopicPermissions struct {
	Subscribe TopicPatterns
	Publish   TopicPatterns
}
