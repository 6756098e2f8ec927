package security

import (
	"encoding/binary"
	"fmt"
	"regexp/syntax"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// DefaultMaxDepth is the nesting depth NewValidator allows when given 0:
// deep enough for any message a client has reason to send, shallow enough
// that nesting costs nothing worth attacking.
const DefaultMaxDepth = 32

// jsonMaxDepth is the deepest nesting fastjson's parser takes: it counts
// every value, scalars included, against fastjson.MaxDepth, so a container
// holding a scalar at this depth is its limit.
const jsonMaxDepth = fastjson.MaxDepth - 1

// InvalidKind says why a message was refused.
type InvalidKind uint8

// The kinds of Invalid. The zero value is none of them.
const (
	InvalidJSON     InvalidKind = iota + 1 // not well-formed JSON
	TooDeep                                // nested deeper than the validator's limit
	SchemaViolation                        // well-formed, but the schema refuses it
)

// String returns the kind as a metrics label: "invalid_json", "too_deep"
// or "schema".
func (k InvalidKind) String() string {
	switch k {
	case InvalidJSON:
		return "invalid_json"
	case TooDeep:
		return "too_deep"
	case SchemaViolation:
		return "schema"
	}
	return "unknown"
}

// Invalid is why Validate refused a message. The values are shared, made
// once when the schema is compiled or the validator made, so that refusing
// a message costs no allocation: do not modify one.
type Invalid struct {
	Kind InvalidKind // what kind of refusal, for metrics
	// Reason is short and human readable, at most 100 bytes, and quotes
	// nothing from the message, so it can be logged or sent to the client
	// as is: "invalid JSON", "JSON nested deeper than 32", or for a schema
	// violation the keyword and its place in the schema as a JSON pointer,
	// "schema: /properties/name: maxLength" ("schema: type" at the root;
	// a pointer too long keeps its end, after "..."). Of several
	// violations it names the first found: members and elements in
	// message order, and at each schema type, const, enum, then the
	// keywords of the instance's type.
	Reason string
}

// Validator checks messages against a Schema. It owns the fastjson.Parser
// the messages are parsed with, and reuses its memory from one message to
// the next, so that a valid message costs no allocation; it keeps as much
// as the largest message has needed.
//
// Not safe for concurrent use: one per event loop, like its fastjson.Parser.
//
// A message must be one JSON value as RFC 8259 defines it, with optional
// white space around it. That is stricter than fastjson's own parser, and
// than fastjson.Validate: strings must be valid UTF-8 and a \u escape of a
// UTF-16 surrogate must be one of a pair, as decoders that replace or
// drop such input would otherwise read a different string than the one
// the schema was checked against.
type Validator struct {
	root     *schemaNode // nil: no schema
	maxDepth int
	p        fastjson.Parser
	last     *fastjson.Value // what the last Validate parsed
	num      []byte          // text of the number being checked for "integer"

	invalidJSON *Invalid
	tooDeep     *Invalid
}

// NewValidator returns a validator for s (nil s: any well-formed JSON
// passes) that refuses documents nested deeper than maxDepth arrays and
// objects; 0 or less means DefaultMaxDepth, and more than 299 means 299,
// fastjson's own limit. The depth is checked while the message is scanned
// for well-formedness, before it is parsed, so a deep document never
// reaches the parser.
func NewValidator(s *Schema, maxDepth int) *Validator {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	maxDepth = min(maxDepth, jsonMaxDepth)
	v := &Validator{
		maxDepth:    maxDepth,
		num:         make([]byte, 0, 32),
		invalidJSON: &Invalid{Kind: InvalidJSON, Reason: "invalid JSON"},
		tooDeep:     &Invalid{Kind: TooDeep, Reason: fmt.Sprintf("JSON nested deeper than %d", maxDepth)},
	}
	if s != nil {
		v.root = s.root
	}
	return v
}

// Validate checks one message. It returns nil if the message is valid, and
// otherwise why not. The message is not retained.
func (v *Validator) Validate(msg []byte) *Invalid {
	v.last = nil
	s := jsonScanner{b: msg, max: v.maxDepth}
	if !s.document() {
		if s.deep {
			return v.tooDeep
		}
		return v.invalidJSON
	}
	n := v.root
	if n == nil || n.any {
		return nil
	}
	if n.never {
		return n.fail[kwFalse]
	}
	val, err := v.p.ParseBytes(msg)
	if err != nil {
		// Unreachable: the scan accepts less than the parser does.
		return v.invalidJSON
	}
	if bad := v.check(n, val); bad != nil {
		return bad
	}
	v.last = val
	return nil
}

// Value returns the document the last call to Validate parsed, for the
// caller to read what it has just validated without parsing it again. It
// is nil when that call did not parse the message (it was refused before,
// or there is no schema, or one every document meets), and it is valid
// only until the next call to Validate.
func (v *Validator) Value() *fastjson.Value { return v.last }

// check returns the first violation of n by val, in the order type, const,
// enum, then the keywords of val's type.
func (v *Validator) check(n *schemaNode, val *fastjson.Value) *Invalid {
	if n.any {
		return nil
	}
	if n.never {
		return n.fail[kwFalse]
	}
	t := val.Type()
	if n.types != 0 && !v.schemaTypeOK(n.types, t, val) {
		return n.fail[kwType]
	}
	if n.konst != nil && !n.konst.equal(val) {
		return n.fail[kwConst]
	}
	if n.enum != nil && !n.enum.contains(val) {
		return n.fail[kwEnum]
	}
	switch t {
	case fastjson.TypeString:
		if n.has&kwsString != 0 {
			b, _ := val.StringBytes()
			return n.checkString(b)
		}
	case fastjson.TypeNumber:
		if n.has&kwsNumber != 0 {
			// NaN on error, which every bound below refuses; the scan
			// lets through only numbers fastjson reads.
			f, _ := val.Float64()
			return n.checkNumber(f)
		}
	case fastjson.TypeObject:
		if n.has&kwsObject != 0 {
			o, _ := val.Object()
			return v.checkObject(n, o)
		}
	case fastjson.TypeArray:
		if n.has&kwsArray != 0 {
			a, _ := val.Array()
			return v.checkArray(n, a)
		}
	}
	return nil
}

func (v *Validator) schemaTypeOK(types schemaTypes, t fastjson.Type, val *fastjson.Value) bool {
	bit := schemaTypeOf(t)
	if types&bit != 0 {
		return true
	}
	if bit != schemaNumber || types&schemaInteger == 0 {
		return false
	}
	v.num = val.MarshalTo(v.num[:0])
	return isIntegerText(v.num)
}

func (n *schemaNode) checkString(b []byte) *Invalid {
	// The byte length bounds the number of code points from above, which
	// spares counting them in the usual case.
	if n.has&kwBit(kwMaxLength) != 0 && len(b) > n.maxLen && utf8.RuneCount(b) > n.maxLen {
		return n.fail[kwMaxLength]
	}
	if n.has&kwBit(kwMinLength) != 0 && (len(b) < n.minLen || utf8.RuneCount(b) < n.minLen) {
		return n.fail[kwMinLength]
	}
	if n.patternRun != nil {
		if !n.patternRun.match(b) {
			return n.fail[kwPattern]
		}
	} else if n.pattern != nil && !n.pattern.Match(b) {
		return n.fail[kwPattern]
	}
	return nil
}

// checkNumber writes each bound so that NaN fails it.
func (n *schemaNode) checkNumber(f float64) *Invalid {
	switch {
	case n.has&kwBit(kwMinimum) != 0 && !(f >= n.minimum):
		return n.fail[kwMinimum]
	case n.has&kwBit(kwMaximum) != 0 && !(f <= n.maximum):
		return n.fail[kwMaximum]
	case n.has&kwBit(kwExclusiveMinimum) != 0 && !(f > n.exclusiveMinimum):
		return n.fail[kwExclusiveMinimum]
	case n.has&kwBit(kwExclusiveMaximum) != 0 && !(f < n.exclusiveMaximum):
		return n.fail[kwExclusiveMaximum]
	}
	return nil
}

func (v *Validator) checkObject(n *schemaNode, o *fastjson.Object) *Invalid {
	if n.has&kwBit(kwMinProperties) != 0 && o.Len() < n.minProps {
		return n.fail[kwMinProperties]
	}
	if n.has&kwBit(kwMaxProperties) != 0 && o.Len() > n.maxProps {
		return n.fail[kwMaxProperties]
	}
	if n.props == nil && n.propList == nil && n.additional == nil {
		return nil
	}
	// One pass over the members settles properties, additionalProperties
	// and the first 64 required names. Every member is checked, duplicates
	// included, so that a second "op" cannot hide behind a valid first one
	// from a consumer that keeps the last.
	var bad *Invalid
	var seen uint64
	o.Visit(func(key []byte, mv *fastjson.Value) {
		if bad != nil {
			return
		}
		sub := n.additional
		if p := n.prop(key); p != nil {
			seen |= p.bit
			if p.declared {
				sub = p.node
			}
		}
		if sub != nil {
			bad = v.check(sub, mv)
		}
	})
	if bad != nil {
		return bad
	}
	if seen&n.required != n.required {
		return n.fail[kwRequired]
	}
	for _, name := range n.requiredRest {
		if o.Get(name) == nil {
			return n.fail[kwRequired]
		}
	}
	return nil
}

func (v *Validator) checkArray(n *schemaNode, a []*fastjson.Value) *Invalid {
	if n.has&kwBit(kwMinItems) != 0 && len(a) < n.minItems {
		return n.fail[kwMinItems]
	}
	if n.has&kwBit(kwMaxItems) != 0 && len(a) > n.maxItems {
		return n.fail[kwMaxItems]
	}
	if n.items != nil {
		for _, e := range a {
			if bad := v.check(n.items, e); bad != nil {
				return bad
			}
		}
	}
	return nil
}

// isIntegerText reports whether the JSON number t has no fractional part,
// judged on its decimal digits rather than on a float64, which would round
// 1.0000000000000001 to an integer.
func isIntegerText(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	// The value is the digits d of the integer and fraction parts with the
	// decimal point after the first intDigits+exp of them; it is an
	// integer if no digit after that point is other than 0.
	last := -1 // index in d of the last digit other than 0
	nd := 0
	for ; i < len(t) && jsonDigit(t[i]); i++ {
		if t[i] != '0' {
			last = nd
		}
		nd++
	}
	intDigits := nd
	if i < len(t) && t[i] == '.' {
		for i++; i < len(t) && jsonDigit(t[i]); i++ {
			if t[i] != '0' {
				last = nd
			}
			nd++
		}
	}
	if last < 0 {
		return true // zero, whatever its exponent
	}
	exp := 0
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		neg := false
		if i < len(t) && (t[i] == '-' || t[i] == '+') {
			neg = t[i] == '-'
			i++
		}
		for ; i < len(t) && jsonDigit(t[i]); i++ {
			if exp < 1<<30 { // past that, only the sign matters
				exp = exp*10 + int(t[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	return last < intDigits+exp
}

func jsonDigit(c byte) bool { return c >= '0' && c <= '9' }

// jsonScanner checks that b is one well-formed JSON value nested no deeper
// than max, without building anything. It is stricter than the parser
// (see Validator), and so decides alone what is well-formed.
type jsonScanner struct {
	b    []byte
	max  int
	deep bool // the scan stopped at an array or object deeper than max
}

// jsonPlain marks the bytes that stand for themselves in a string: not
// the quote, the backslash, control characters or the start of a UTF-8
// sequence, which need a closer look.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *jsonScanner) document() bool {
	i := s.value(s.space(0), 0)
	return i >= 0 && s.space(i) == len(s.b)
}

func (s *jsonScanner) space(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value at b[i:], inside depth arrays and objects, and
// returns the index just past it, or -1.
func (s *jsonScanner) value(i, depth int) int {
	if i >= len(s.b) {
		return -1
	}
	switch s.b[i] {
	case '{':
		return s.object(i+1, depth+1)
	case '[':
		return s.array(i+1, depth+1)
	case '"':
		return s.str(i + 1)
	case 't':
		return s.literal(i, "true")
	case 'f':
		return s.literal(i, "false")
	case 'n':
		return s.literal(i, "null")
	}
	return s.number(i)
}

func (s *jsonScanner) object(i, depth int) int {
	if depth > s.max {
		s.deep = true
		return -1
	}
	i = s.space(i)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return -1
		}
		if i = s.str(i + 1); i < 0 {
			return -1
		}
		i = s.space(i)
		if i >= len(s.b) || s.b[i] != ':' {
			return -1
		}
		if i = s.value(s.space(i+1), depth); i < 0 {
			return -1
		}
		i = s.space(i)
		if i >= len(s.b) {
			return -1
		}
		switch s.b[i] {
		case ',':
			i = s.space(i + 1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func (s *jsonScanner) array(i, depth int) int {
	if depth > s.max {
		s.deep = true
		return -1
	}
	i = s.space(i)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1
	}
	for {
		if i = s.value(i, depth); i < 0 {
			return -1
		}
		i = s.space(i)
		if i >= len(s.b) {
			return -1
		}
		switch s.b[i] {
		case ',':
			i = s.space(i + 1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// str scans the rest of a string whose opening quote is before b[i].
func (s *jsonScanner) str(i int) int {
	b := s.b
	for i < len(b) {
		// Strings are most of a message, and mostly plain ASCII: skip it
		// eight bytes at a time.
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && jsonPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i = s.escape(i + 1); i < 0 {
				return -1
			}
		case c < 0x20:
			return -1
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return -1
			}
			i += size
		}
	}
	return -1
}

// escape scans the escape whose backslash is before b[i].
// plain8 reports whether all eight bytes of w are plain (see jsonPlain),
// with the classic tests for a zero byte (x-0x01…)&^x and a byte below n
// (x-n…)&^x, whose high bits are exact when no byte of x has its high bit
// set, which the final |w refuses anyway.
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := w ^ (ones * '"')
	bslash := w ^ (ones * '\\')
	special := (quote-ones)&^quote | (bslash-ones)&^bslash | (w-ones*0x20)&^w | w
	return special&highs == 0
}

func (s *jsonScanner) escape(i int) int {
	if i >= len(s.b) {
		return -1
	}
	switch s.b[i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 1
	case 'u':
	default:
		return -1
	}
	r := s.hex4(i + 1)
	switch {
	case r < 0:
		return -1
	case r < 0xD800 || r > 0xDFFF:
		return i + 5
	case r >= 0xDC00:
		return -1 // a low surrogate with no high one before it
	}
	// A high surrogate: the low one must follow.
	i += 5
	if i+1 >= len(s.b) || s.b[i] != '\\' || s.b[i+1] != 'u' {
		return -1
	}
	if r = s.hex4(i + 2); r < 0xDC00 || r > 0xDFFF {
		return -1
	}
	return i + 6
}

// hex4 returns the value of the four hex digits at b[i:], or -1.
func (s *jsonScanner) hex4(i int) int {
	if i+4 > len(s.b) {
		return -1
	}
	r := 0
	for _, c := range s.b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

func (s *jsonScanner) literal(i int, lit string) int {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what
// follows it is for the caller to judge, which refuses "01" and "1x".
func (s *jsonScanner) number(i int) int {
	b := s.b
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b) || !jsonDigit(b[i]):
		return -1
	case b[i] == '0':
		i++
	default:
		i = s.digits(i)
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !jsonDigit(b[i]) {
			return -1
		}
		i = s.digits(i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !jsonDigit(b[i]) {
			return -1
		}
		i = s.digits(i)
	}
	return i
}

func (s *jsonScanner) digits(i int) int {
	for i < len(s.b) && jsonDigit(s.b[i]) {
		i++
	}
	return i
}

// classRun matches the strings of a common shape of pattern without the
// regexp engine, several times faster: "^" and then a run of character
// classes (or single characters), each with a repeat count, and maybe "$",
// as in ^[a-z0-9][a-z0-9.-]*$ or ^[A-Za-z0-9_-]{1,64}$. One greedy pass
// over the string decides, which compileClassRun allows only when no
// backtracking could change the outcome.
type classRun struct {
	items []classRep
	open  bool // no "$": the string may go on after the run
}

type classRep struct {
	ascii    [2]uint64 // bit c: c is in the class, for c < 128
	ranges   []rune    // the rest of the class, as sorted lo, hi pairs
	min, max int       // max < 0: no bound
}

// compileClassRun returns the classRun of expr, or nil if expr is not of
// its shape.
func compileClassRun(expr string) *classRun {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) == 0 || subs[0].Op != syntax.OpBeginText {
		return nil // unanchored: a search, which this is not
	}
	subs = subs[1:]
	run := &classRun{open: true}
	if k := len(subs); k > 0 && subs[k-1].Op == syntax.OpEndText {
		run.open = false
		subs = subs[:k-1]
	}
	for _, sub := range subs {
		lo, hi := 1, 1
		switch sub.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		case syntax.OpRepeat:
			lo, hi = sub.Min, sub.Max
		}
		if lo != 1 || hi != 1 || sub.Op == syntax.OpRepeat {
			sub = sub.Sub[0]
			if sub.Op == syntax.OpLiteral && len(sub.Rune) != 1 {
				return nil
			}
		}
		switch {
		case sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0:
			for _, r := range sub.Rune {
				run.items = append(run.items, newClassRep([]rune{r, r}, lo, hi))
			}
		case sub.Op == syntax.OpCharClass:
			run.items = append(run.items, newClassRep(sub.Rune, lo, hi))
		case sub.Op == syntax.OpAnyCharNotNL:
			run.items = append(run.items, newClassRep([]rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}, lo, hi))
		case sub.Op == syntax.OpAnyChar:
			run.items = append(run.items, newClassRep([]rune{0, utf8.MaxRune}, lo, hi))
		default:
			return nil
		}
	}
	// Greedy is right where each item of variable length is followed by
	// one that takes at least one character, none of them the item's:
	// the item must then end exactly where its characters do, or at its
	// bound.
	for i := 0; i+1 < len(run.items); i++ {
		it, next := &run.items[i], &run.items[i+1]
		if it.min != it.max && (next.min == 0 || it.overlaps(next)) {
			return nil
		}
	}
	return run
}

func newClassRep(ranges []rune, lo, hi int) classRep {
	c := classRep{min: lo, max: hi}
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= min(ranges[i+1], utf8.RuneSelf-1); r++ {
			c.ascii[r>>6] |= 1 << (r & 63)
		}
		if ranges[i+1] >= utf8.RuneSelf {
			c.ranges = append(c.ranges, max(ranges[i], utf8.RuneSelf), ranges[i+1])
		}
	}
	return c
}

func (c *classRep) has(r rune) bool {
	if r < utf8.RuneSelf {
		return c.ascii[r>>6]&(1<<(r&63)) != 0
	}
	// Binary search for the first pair whose hi is not below r.
	lo, hi := 0, len(c.ranges)/2
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.ranges[2*m+1] < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(c.ranges)/2 && c.ranges[2*lo] <= r
}

func (c *classRep) overlaps(d *classRep) bool {
	if c.ascii[0]&d.ascii[0] != 0 || c.ascii[1]&d.ascii[1] != 0 {
		return true
	}
	for i := 0; i < len(c.ranges); i += 2 {
		for j := 0; j < len(d.ranges); j += 2 {
			if c.ranges[i] <= d.ranges[j+1] && d.ranges[j] <= c.ranges[i+1] {
				return true
			}
		}
	}
	return false
}

// match reports whether the regexp the run was compiled from matches b.
// It decodes b as the regexp does, an invalid byte being U+FFFD.
func (run *classRun) match(b []byte) bool {
	i := 0
	for k := range run.items {
		it := &run.items[k]
		n := 0
		for i < len(b) && (it.max < 0 || n < it.max) {
			r, size := rune(b[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRune(b[i:])
			}
			if !it.has(r) {
				break
			}
			i += size
			n++
		}
		if n < it.min {
			return false
		}
	}
	return run.open || i == len(b)
}
