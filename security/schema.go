package security

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Schema is a compiled JSON Schema for the messages clients send, in the
// subset below. CompileSchema refuses a schema that steps outside it,
// naming the keyword and where it is, so that no keyword is believed
// enforced when it is not. A Schema is immutable and safe for concurrent
// use; each event loop checks messages with its own Validator.
//
// The schema applies to messages a Validator has found to be well-formed
// JSON, no deeper than its limit; see Validator for what well-formed means.
//
// A schema is a JSON object of keywords, or true (anything passes) or
// false (nothing does); {} is true. As in JSON Schema, a keyword applies
// only to instances of its type: {"maxLength": 3} passes the number 12345
// and {"required": ["id"]} passes an array. Add "type" to demand the type.
//
// For any instance:
//
//   - type: one of "null", "boolean", "object", "array", "number",
//     "integer", "string", or a non-empty array of distinct ones (any of
//     them). "integer" is a number with no fractional part, judged exactly
//     on its digits: 1, 1.0, -0 and 1e3 are integers, 1.5 and
//     1.0000000000000001 are not; "number" includes the integers.
//   - enum: a non-empty array of JSON values; the instance must equal one.
//   - const: a JSON value; the instance must equal it.
//
// Equality is deep: objects are equal when they have the same member
// names with equal values, in any order; arrays when they have equal
// elements in the same order; numbers when their values are equal as
// float64 (1, 1.0 and 1e0 are equal); strings when their code points are.
// true, false and null equal only themselves, and values of different
// types are never equal (1 is not true, "1" is not 1).
//
// For strings (after JSON unescaping):
//
//   - minLength, maxLength: non-negative integers; the length in Unicode
//     code points, not bytes, bounds included.
//   - pattern: a regular expression in the RE2 syntax of Go's regexp
//     package (https://pkg.go.dev/regexp/syntax), not ECMA 262 as JSON
//     Schema says: no lookaround, no backreferences, and matching takes
//     linear time whatever the pattern. It is unanchored, as in JSON
//     Schema: "cat" matches "concatenate"; write "^cat$" for the whole
//     string.
//
// For numbers, compared as float64 (IEEE 754 doubles: integers beyond
// 2^53 are rounded, and numbers beyond about ±1.8e308 are infinite):
//
//   - minimum, maximum: numbers, bounds included.
//   - exclusiveMinimum, exclusiveMaximum: numbers, bounds excluded (draft 6
//     and later; the draft 4 booleans are refused).
//
// For objects:
//
//   - properties: an object of schemas; a member whose name is there must
//     match that schema.
//   - required: an array of distinct strings; members that must be present.
//   - additionalProperties: a schema for the members not named in
//     properties (names only in required are not exempt); false forbids
//     them.
//   - minProperties, maxProperties: non-negative integers; bounds on the
//     number of members, included.
//
// For arrays:
//
//   - items: one schema every element must match. The array form (tuples)
//     is refused.
//   - minItems, maxItems: non-negative integers; bounds on the number of
//     elements, included.
//
// The annotations $schema, $id, title, description, $comment, examples and
// default are accepted and ignored. Any other keyword is an error: among
// them $ref, $defs, allOf, anyOf, oneOf, not, if, then, else, format,
// multipleOf, uniqueItems, contains, prefixItems, patternProperties,
// propertyNames, dependentRequired and unevaluatedProperties.
//
// A message that repeats a member name ({"op": "a", "op": "b"}) has every
// occurrence checked against the schema for that name, so a consumer that
// keeps the last one gets a checked value; minProperties and maxProperties
// count members as written, repeats included.
type Schema struct {
	root *schemaNode
}

// schemaNode is one compiled schema. Its keyword fields are meaningful
// only where has says the keyword is present.
type schemaNode struct {
	any   bool // no constraint: true, {}, or annotations only
	never bool // false
	has   uint32
	types schemaTypes

	konst *jsonConst
	enum  *jsonEnum

	minLen, maxLen int
	pattern        *regexp.Regexp
	patternRun     *classRun // nil: match with pattern

	minimum, maximum, exclusiveMinimum, exclusiveMaximum float64

	minProps, maxProps int
	// props and propList hold the names in properties and required: in a
	// map if there are many, else in a list in schema order, as a scan
	// that comparing lengths mostly settles beats hashing the name. Both
	// are nil when no member needs a look.
	props        map[string]*schemaProp
	propList     []*schemaProp
	required     uint64   // bits of the first 64 required names
	requiredRest []string // required names past the first 64
	additional   *schemaNode

	minItems, maxItems int
	items              *schemaNode

	// fail is the Invalid of each keyword present, at this node's place.
	fail [kwCount]*Invalid
}

// schemaProp is what the schema says of a member name. The name is
// "declared" if properties names it; node is then its schema, nil if that
// accepts anything. bit is its bit in schemaNode.required, if any.
type schemaProp struct {
	name     string
	node     *schemaNode
	declared bool
	bit      uint64
}

// maxLinear is the most names looked up by a scan rather than a map.
const maxLinear = 8

// prop returns what the schema says of the member name key, or nil.
func (n *schemaNode) prop(key []byte) *schemaProp {
	if n.props != nil {
		return n.props[string(key)]
	}
	for _, p := range n.propList {
		if p.name == string(key) {
			return p
		}
	}
	return nil
}

type schemaKeyword uint8

const (
	kwType schemaKeyword = iota
	kwEnum
	kwConst
	kwMinLength
	kwMaxLength
	kwPattern
	kwMinimum
	kwMaximum
	kwExclusiveMinimum
	kwExclusiveMaximum
	kwProperties
	kwRequired
	kwAdditionalProperties
	kwMinProperties
	kwMaxProperties
	kwItems
	kwMinItems
	kwMaxItems
	kwFalse // the schema false, named so in Reason
	kwCount
)

var schemaKeywordNames = [kwCount]string{
	kwType:                 "type",
	kwEnum:                 "enum",
	kwConst:                "const",
	kwMinLength:            "minLength",
	kwMaxLength:            "maxLength",
	kwPattern:              "pattern",
	kwMinimum:              "minimum",
	kwMaximum:              "maximum",
	kwExclusiveMinimum:     "exclusiveMinimum",
	kwExclusiveMaximum:     "exclusiveMaximum",
	kwProperties:           "properties",
	kwRequired:             "required",
	kwAdditionalProperties: "additionalProperties",
	kwMinProperties:        "minProperties",
	kwMaxProperties:        "maxProperties",
	kwItems:                "items",
	kwMinItems:             "minItems",
	kwMaxItems:             "maxItems",
	kwFalse:                "false",
}

var schemaKeywords = func() map[string]schemaKeyword {
	m := make(map[string]schemaKeyword, kwFalse)
	for k := range kwFalse {
		m[schemaKeywordNames[k]] = k
	}
	return m
}()

func kwBit(k schemaKeyword) uint32 { return 1 << k }

// The keywords that say something about instances of one type, which check
// looks at only for that type.
var (
	kwsString = kwBit(kwMinLength) | kwBit(kwMaxLength) | kwBit(kwPattern)
	kwsNumber = kwBit(kwMinimum) | kwBit(kwMaximum) | kwBit(kwExclusiveMinimum) | kwBit(kwExclusiveMaximum)
	kwsObject = kwBit(kwProperties) | kwBit(kwRequired) | kwBit(kwAdditionalProperties) |
		kwBit(kwMinProperties) | kwBit(kwMaxProperties)
	kwsArray = kwBit(kwItems) | kwBit(kwMinItems) | kwBit(kwMaxItems)
)

// schemaAnnotations are accepted and ignored: they say nothing about
// instances.
var schemaAnnotations = map[string]bool{
	"$schema": true, "$id": true, "title": true, "description": true,
	"$comment": true, "examples": true, "default": true,
}

// schemaUnsupported are JSON Schema keywords outside the subset, refused
// with a message that says so rather than calling them unknown.
var schemaUnsupported = map[string]bool{
	"$ref": true, "$defs": true, "definitions": true, "$anchor": true,
	"$dynamicRef": true, "$dynamicAnchor": true, "$recursiveRef": true,
	"$recursiveAnchor": true, "$vocabulary": true,
	"allOf": true, "anyOf": true, "oneOf": true, "not": true,
	"if": true, "then": true, "else": true,
	"dependentSchemas": true, "dependentRequired": true, "dependencies": true,
	"prefixItems": true, "additionalItems": true, "contains": true,
	"minContains": true, "maxContains": true, "uniqueItems": true,
	"unevaluatedItems": true, "unevaluatedProperties": true,
	"patternProperties": true, "propertyNames": true, "multipleOf": true,
	"format": true, "contentEncoding": true, "contentMediaType": true,
	"contentSchema": true, "readOnly": true, "writeOnly": true, "deprecated": true,
}

type schemaTypes uint8

const (
	schemaNull schemaTypes = 1 << iota
	schemaBoolean
	schemaObject
	schemaArray
	schemaNumber
	schemaInteger
	schemaString
)

var schemaTypeNames = map[string]schemaTypes{
	"null": schemaNull, "boolean": schemaBoolean, "object": schemaObject,
	"array": schemaArray, "number": schemaNumber, "integer": schemaInteger,
	"string": schemaString,
}

// schemaTypeOf is the type of an instance; integers are numbers here, and
// schemaTypeOK looks closer.
func schemaTypeOf(t fastjson.Type) schemaTypes {
	switch t {
	case fastjson.TypeNull:
		return schemaNull
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return schemaBoolean
	case fastjson.TypeObject:
		return schemaObject
	case fastjson.TypeArray:
		return schemaArray
	case fastjson.TypeNumber:
		return schemaNumber
	}
	return schemaString
}

// maxInvalidReason is the longest Reason, so that it fits a log line or a close
// frame's reason (123 bytes) with room to spare.
const maxInvalidReason = 100

// CompileSchema compiles a schema document (JSON) in the subset Schema
// describes. Unknown and unsupported keywords are errors that name the
// keyword and its place in the schema, as are keyword values of the wrong
// type or range and regular expressions that do not compile.
func CompileSchema(doc []byte) (*Schema, error) {
	s := jsonScanner{b: doc, max: jsonMaxDepth}
	if !s.document() {
		if s.deep {
			return nil, fmt.Errorf("security: schema: JSON nested deeper than %d", jsonMaxDepth)
		}
		return nil, fmt.Errorf("security: schema: invalid JSON")
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(doc)
	if err != nil {
		return nil, fmt.Errorf("security: schema: %v", err)
	}
	root, err := compileNode(v, "")
	if err != nil {
		return nil, err
	}
	return &Schema{root: root}, nil
}

// schemaError is an error about the schema at ptr.
func schemaError(ptr, format string, args ...any) error {
	where := "security: schema"
	if ptr != "" {
		where += " " + ptr
	}
	return fmt.Errorf(where+": "+format, args...)
}

func compileNode(v *fastjson.Value, ptr string) (*schemaNode, error) {
	n := &schemaNode{}
	switch v.Type() {
	case fastjson.TypeTrue:
		n.any = true
		return n, nil
	case fastjson.TypeFalse:
		n.never = true
		n.fail[kwFalse] = schemaInvalid(ptr, kwFalse)
		return n, nil
	case fastjson.TypeObject:
	default:
		return nil, schemaError(ptr, "a schema is an object or a boolean, not %s", jsonTypeName(v))
	}
	o, _ := v.Object()
	var err error
	var required *fastjson.Value
	seenAnnotations := map[string]bool{}
	o.Visit(func(key []byte, kv *fastjson.Value) {
		if err != nil {
			return
		}
		name := string(key)
		k, ok := schemaKeywords[name]
		switch {
		case schemaAnnotations[name]:
			if seenAnnotations[name] {
				err = schemaError(ptr, "keyword %q appears twice", name)
			}
			seenAnnotations[name] = true
			return
		case schemaUnsupported[name]:
			err = schemaError(ptr, "unsupported keyword %q: wssd enforces a subset of JSON Schema", name)
			return
		case !ok:
			err = schemaError(ptr, "unknown keyword %q", name)
			return
		case n.has&kwBit(k) != 0:
			err = schemaError(ptr, "keyword %q appears twice", name)
			return
		}
		n.has |= kwBit(k)
		if k == kwRequired {
			// After properties, whose check for repeated names the
			// names of required would trip.
			required = kv
			return
		}
		err = n.keyword(k, kv, ptr)
	})
	if err == nil && required != nil {
		err = n.compileRequired(required, ptr)
	}
	if err != nil {
		return nil, err
	}
	for k := range kwFalse {
		if n.has&kwBit(k) != 0 {
			n.fail[k] = schemaInvalid(ptr, k)
		}
	}
	// Subschemas that constrain nothing are dropped, so that check does not
	// walk into what it cannot refuse.
	if n.items != nil && n.items.any {
		n.items = nil
		n.has &^= kwBit(kwItems)
	}
	if n.additional != nil && n.additional.any {
		n.additional = nil
		n.has &^= kwBit(kwAdditionalProperties)
	}
	if n.required == 0 && n.requiredRest == nil {
		n.has &^= kwBit(kwRequired)
	}
	if n.additional == nil && n.has&kwBit(kwRequired) == 0 && !n.propsCheck() {
		n.props, n.propList = nil, nil
		n.has &^= kwBit(kwProperties)
	}
	if len(n.props) <= maxLinear {
		n.props = nil
	} else {
		n.propList = nil
	}
	n.any = n.types == 0 && n.konst == nil && n.enum == nil &&
		n.has&(kwsString|kwsNumber|kwsArray|kwsObject) == 0
	return n, nil
}

// propsCheck reports whether a schema in properties constrains anything.
func (n *schemaNode) propsCheck() bool {
	for _, p := range n.props {
		if p.node != nil {
			return true
		}
	}
	return false
}

// keyword compiles keyword k, whose value is v, into n.
func (n *schemaNode) keyword(k schemaKeyword, v *fastjson.Value, ptr string) error {
	name := schemaKeywordNames[k]
	var err error
	switch k {
	case kwType:
		n.types, err = compileTypes(v, ptr)
	case kwEnum:
		a, aerr := v.Array()
		if aerr != nil || len(a) == 0 {
			return schemaError(ptr, "enum must be a non-empty array")
		}
		n.enum, err = compileEnum(a, ptr)
	case kwConst:
		n.konst, err = compileConst(v, ptr+"/const")
	case kwMinLength:
		n.minLen, err = schemaCount(v, ptr, name)
	case kwMaxLength:
		n.maxLen, err = schemaCount(v, ptr, name)
	case kwMinProperties:
		n.minProps, err = schemaCount(v, ptr, name)
	case kwMaxProperties:
		n.maxProps, err = schemaCount(v, ptr, name)
	case kwMinItems:
		n.minItems, err = schemaCount(v, ptr, name)
	case kwMaxItems:
		n.maxItems, err = schemaCount(v, ptr, name)
	case kwMinimum:
		n.minimum, err = schemaFloat(v, ptr, name)
	case kwMaximum:
		n.maximum, err = schemaFloat(v, ptr, name)
	case kwExclusiveMinimum:
		n.exclusiveMinimum, err = schemaFloat(v, ptr, name)
	case kwExclusiveMaximum:
		n.exclusiveMaximum, err = schemaFloat(v, ptr, name)
	case kwPattern:
		b, serr := v.StringBytes()
		if serr != nil {
			return schemaError(ptr, "pattern must be a string, not %s", jsonTypeName(v))
		}
		if n.pattern, err = regexp.Compile(string(b)); err != nil {
			return schemaError(ptr, "pattern: %v", err)
		}
		n.patternRun = compileClassRun(string(b))
	case kwProperties:
		err = n.compileProperties(v, ptr)
	case kwAdditionalProperties:
		n.additional, err = compileNode(v, ptr+"/additionalProperties")
	case kwItems:
		if v.Type() == fastjson.TypeArray {
			return schemaError(ptr, "items must be one schema; the array form (tuples) is not supported")
		}
		n.items, err = compileNode(v, ptr+"/items")
	}
	return err
}

func compileTypes(v *fastjson.Value, ptr string) (schemaTypes, error) {
	one := func(e *fastjson.Value) (schemaTypes, error) {
		b, err := e.StringBytes()
		if err != nil {
			return 0, schemaError(ptr, "type must be a string or an array of strings")
		}
		t, ok := schemaTypeNames[string(b)]
		if !ok {
			return 0, schemaError(ptr, "unknown type %q", b)
		}
		return t, nil
	}
	if v.Type() != fastjson.TypeArray {
		return one(v)
	}
	a, _ := v.Array()
	if len(a) == 0 {
		return 0, schemaError(ptr, "type must not be an empty array")
	}
	var types schemaTypes
	for _, e := range a {
		t, err := one(e)
		if err != nil {
			return 0, err
		}
		if types&t != 0 {
			return 0, schemaError(ptr, "type %q appears twice", e.GetStringBytes())
		}
		types |= t
	}
	return types, nil
}

func (n *schemaNode) compileProperties(v *fastjson.Value, ptr string) error {
	o, err := v.Object()
	if err != nil {
		return schemaError(ptr, "properties must be an object, not %s", jsonTypeName(v))
	}
	if n.props == nil {
		n.props = make(map[string]*schemaProp, o.Len())
	}
	o.Visit(func(key []byte, pv *fastjson.Value) {
		if err != nil {
			return
		}
		name := string(key)
		if n.props[name] != nil {
			err = schemaError(ptr, "property %q appears twice in properties", name)
			return
		}
		var sub *schemaNode
		if sub, err = compileNode(pv, ptr+"/properties/"+pointerToken(name)); err != nil {
			return
		}
		if sub.any {
			sub = nil
		}
		p := &schemaProp{name: name, node: sub, declared: true}
		n.props[name] = p
		n.propList = append(n.propList, p)
	})
	return err
}

func (n *schemaNode) compileRequired(v *fastjson.Value, ptr string) error {
	a, err := v.Array()
	if err != nil {
		return schemaError(ptr, "required must be an array of strings, not %s", jsonTypeName(v))
	}
	if n.props == nil {
		n.props = make(map[string]*schemaProp, len(a))
	}
	seen := make(map[string]bool, len(a))
	for i, e := range a {
		b, err := e.StringBytes()
		if err != nil {
			return schemaError(ptr, "required must be an array of strings; element %d is %s", i, jsonTypeName(e))
		}
		name := string(b)
		if seen[name] {
			return schemaError(ptr, "required names %q twice", name)
		}
		seen[name] = true
		p := n.props[name]
		if p == nil {
			p = &schemaProp{name: name}
			n.props[name] = p
			n.propList = append(n.propList, p)
		}
		if i < 64 {
			p.bit = 1 << i
			n.required |= p.bit
		} else {
			n.requiredRest = append(n.requiredRest, name)
		}
	}
	return nil
}

// schemaCount reads a count: a non-negative integer, which JSON Schema
// lets be written 5.0. Counts past 2^53 are as good as unlimited.
func schemaCount(v *fastjson.Value, ptr, name string) (int, error) {
	f, err := v.Float64()
	if err != nil || !isIntegerText(v.MarshalTo(nil)) || f < 0 {
		return 0, schemaError(ptr, "%s must be a non-negative integer, not %s", name, v)
	}
	return int(min(f, 1<<53)), nil
}

func schemaFloat(v *fastjson.Value, ptr, name string) (float64, error) {
	f, err := v.Float64()
	if err != nil {
		return 0, schemaError(ptr, "%s must be a number, not %s", name, jsonTypeName(v))
	}
	return f, nil
}

// jsonTypeName names v's type as JSON Schema does, for compile errors.
func jsonTypeName(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeNumber:
		return "a number"
	}
	return "a string"
}

// pointerToken escapes a name for a JSON pointer (RFC 6901).
func pointerToken(name string) string {
	if !strings.ContainsAny(name, "~/") {
		return name
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
}

// schemaInvalid is the Invalid of keyword k of the schema at ptr. A
// pointer too long for maxInvalidReason keeps its end, which names the place
// most precisely.
func schemaInvalid(ptr string, k schemaKeyword) *Invalid {
	kw := schemaKeywordNames[k]
	if ptr == "" {
		return &Invalid{Kind: SchemaViolation, Reason: "schema: " + kw}
	}
	const prefix, ellipsis = "schema: ", "..."
	if room := maxInvalidReason - len(prefix) - len(": ") - len(kw); len(ptr) > room {
		cut := len(ptr) - (room - len(ellipsis))
		for cut < len(ptr) && !utf8.RuneStart(ptr[cut]) {
			cut++
		}
		ptr = ellipsis + ptr[cut:]
	}
	return &Invalid{Kind: SchemaViolation, Reason: prefix + ptr + ": " + kw}
}

// jsonConst is a JSON value of const or enum, kept for deep equality.
type jsonConst struct {
	t   schemaTypes // schemaNumber for every number
	b   bool
	num float64
	str string
	arr []*jsonConst
	obj []jsonMember
}

type jsonMember struct {
	name string
	val  *jsonConst
}

func compileConst(v *fastjson.Value, ptr string) (*jsonConst, error) {
	c := &jsonConst{t: schemaTypeOf(v.Type())}
	switch v.Type() {
	case fastjson.TypeTrue:
		c.b = true
	case fastjson.TypeNumber:
		c.num, _ = v.Float64()
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		c.str = string(b)
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			ec, err := compileConst(e, ptr)
			if err != nil {
				return nil, err
			}
			c.arr = append(c.arr, ec)
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		var err error
		seen := map[string]bool{}
		o.Visit(func(key []byte, mv *fastjson.Value) {
			if err != nil {
				return
			}
			name := string(key)
			if seen[name] {
				err = schemaError(ptr, "member %q appears twice in a value", name)
				return
			}
			seen[name] = true
			var mc *jsonConst
			if mc, err = compileConst(mv, ptr); err == nil {
				c.obj = append(c.obj, jsonMember{name, mc})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// equal reports whether v equals c, deeply.
func (c *jsonConst) equal(v *fastjson.Value) bool {
	t := v.Type()
	if schemaTypeOf(t) != c.t {
		return false
	}
	switch t {
	case fastjson.TypeTrue:
		return c.b
	case fastjson.TypeFalse:
		return !c.b
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return err == nil && f == c.num
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b) == c.str
	case fastjson.TypeArray:
		a, _ := v.Array()
		if len(a) != len(c.arr) {
			return false
		}
		for i, e := range a {
			if !c.arr[i].equal(e) {
				return false
			}
		}
		return true
	case fastjson.TypeObject:
		// As many members as c, each of c's names among them: then the
		// names are the same and none repeats.
		o, _ := v.Object()
		if o.Len() != len(c.obj) {
			return false
		}
		for _, m := range c.obj {
			mv := o.Get(m.name)
			if mv == nil || !m.val.equal(mv) {
				return false
			}
		}
		return true
	}
	return true // null
}

// jsonEnum is the values of an enum, with its strings, the usual case,
// apart: in a set if there are many, else in a list.
type jsonEnum struct {
	strs    map[string]struct{}
	strList []string
	others  []*jsonConst
}

func compileEnum(a []*fastjson.Value, ptr string) (*jsonEnum, error) {
	e := &jsonEnum{}
	for i, v := range a {
		if v.Type() == fastjson.TypeString {
			e.strList = append(e.strList, string(v.GetStringBytes()))
			continue
		}
		c, err := compileConst(v, fmt.Sprintf("%s/enum/%d", ptr, i))
		if err != nil {
			return nil, err
		}
		e.others = append(e.others, c)
	}
	if len(e.strList) > maxLinear {
		e.strs = make(map[string]struct{}, len(e.strList))
		for _, str := range e.strList {
			e.strs[str] = struct{}{}
		}
		e.strList = nil
	}
	return e, nil
}

func (e *jsonEnum) contains(v *fastjson.Value) bool {
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		if e.strs != nil {
			_, ok := e.strs[string(b)]
			return ok
		}
		for _, str := range e.strList {
			if str == string(b) {
				return true
			}
		}
		return false
	}
	for _, c := range e.others {
		if c.equal(v) {
			return true
		}
	}
	return false
}
