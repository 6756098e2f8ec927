package security

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func mustCompileSchema(tb testing.TB, doc string) *Schema {
	tb.Helper()
	s, err := CompileSchema([]byte(doc))
	if err != nil {
		tb.Fatalf("CompileSchema(%s): %v", doc, err)
	}
	return s
}

// checkValidate asserts the outcome of validating msg: nil when reason is
// empty, else an Invalid of that kind and reason.
func checkValidate(t *testing.T, v *Validator, msg string, kind InvalidKind, reason string) {
	t.Helper()
	got := v.Validate([]byte(msg))
	switch {
	case reason == "" && got != nil:
		t.Errorf("Validate(%s) = %v %q, want valid", msg, got.Kind, got.Reason)
	case reason != "" && got == nil:
		t.Errorf("Validate(%s) = valid, want %v %q", msg, kind, reason)
	case reason != "" && (got.Kind != kind || got.Reason != reason):
		t.Errorf("Validate(%s) = %v %q, want %v %q", msg, got.Kind, got.Reason, kind, reason)
	}
}

func TestValidateKeywords(t *testing.T) {
	// many has more names than a scan looks through.
	const many = `{"properties":{"a":{"type":"string"},"b":{},"c":{},"d":{},"e":{},"f":{},"g":{},"h":{},"i":{"type":"integer"}},"required":["i"],"additionalProperties":false}`
	tests := []struct {
		schema string
		msg    string
		reason string // "" for valid; else a SchemaViolation's
	}{
		// Boolean schemas; {} is true.
		{`true`, `{"anything":[1,"x",null]}`, ""},
		{`{}`, `12`, ""},
		{`false`, `null`, "schema: false"},
		{`false`, `{}`, "schema: false"},

		{`{"type":"string"}`, `"x"`, ""},
		{`{"type":"string"}`, `1`, "schema: type"},
		{`{"type":"null"}`, `null`, ""},
		{`{"type":"null"}`, `false`, "schema: type"},
		{`{"type":"boolean"}`, `true`, ""},
		{`{"type":"boolean"}`, `false`, ""},
		{`{"type":"boolean"}`, `0`, "schema: type"},
		{`{"type":"object"}`, `{}`, ""},
		{`{"type":"object"}`, `[]`, "schema: type"},
		{`{"type":"array"}`, `[]`, ""},
		{`{"type":"array"}`, `{}`, "schema: type"},
		{`{"type":"number"}`, `1.5`, ""},
		{`{"type":"number"}`, `7`, ""},
		{`{"type":"number"}`, `"1"`, "schema: type"},
		{`{"type":["string","null"]}`, `null`, ""},
		{`{"type":["string","null"]}`, `"a"`, ""},
		{`{"type":["string","null"]}`, `1`, "schema: type"},
		{`{"type":["integer","string"]}`, `1.5`, "schema: type"},

		// integer is judged on the digits, not on a float64.
		{`{"type":"integer"}`, `1`, ""},
		{`{"type":"integer"}`, `-0`, ""},
		{`{"type":"integer"}`, `1.0`, ""},
		{`{"type":"integer"}`, `1e3`, ""},
		{`{"type":"integer"}`, `10e-1`, ""},
		{`{"type":"integer"}`, `2.5E+1`, ""},
		{`{"type":"integer"}`, `0.000e-99999999999999999999`, ""},
		{`{"type":"integer"}`, `1.5e99999999999999999999`, ""},
		{`{"type":"integer"}`, `123456789012345678901234567890`, ""},
		{`{"type":"integer"}`, `1.5`, "schema: type"},
		{`{"type":"integer"}`, `1e-1`, "schema: type"},
		{`{"type":"integer"}`, `2.55e1`, "schema: type"},
		{`{"type":"integer"}`, `1.0000000000000001`, "schema: type"},
		{`{"type":"integer"}`, `9007199254740993.5`, "schema: type"},
		{`{"type":"integer"}`, `5e-99999999999999999999`, "schema: type"},
		{`{"type":"integer"}`, `"1"`, "schema: type"},

		// enum and const: deep equality, numbers by value.
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `"a"`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `1.0`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `1e0`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `{"k":[1.0,2]}`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `{"\u006b":[1,20e-1]}`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `[true,null]`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `null`, ""},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `"b"`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `"1"`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `true`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `1.5`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `{"k":[2,1]}`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `{"k":[1,2],"x":1}`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `{}`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `[true]`, "schema: enum"},
		{`{"enum":["a",1,{"k":[1,2]},[true,null],null]}`, `[null,true]`, "schema: enum"},
		{`{"enum":[{"a":1,"b":2}]}`, `{"b":2,"a":1}`, ""},
		{`{"enum":[{"a":1,"b":2}]}`, `{"a":1,"a":1}`, "schema: enum"},
		{`{"enum":[{"a":1,"b":2}]}`, `{"a":1,"c":2}`, "schema: enum"},
		{`{"enum":["a","b","c","d","e","f","g","h","i","j",1]}`, `"j"`, ""},
		{`{"enum":["a","b","c","d","e","f","g","h","i","j",1]}`, `1`, ""},
		{`{"enum":["a","b","c","d","e","f","g","h","i","j",1]}`, `"k"`, "schema: enum"},
		{`{"enum":[false]}`, `false`, ""},
		{`{"enum":[false]}`, `true`, "schema: enum"},
		{`{"enum":[false]}`, `null`, "schema: enum"},
		{`{"const":{"a":[1,"x"]}}`, `{"a":[1.0,"\u0078"]}`, ""},
		{`{"const":{"a":[1,"x"]}}`, `{"a":[1,"y"]}`, "schema: const"},
		{`{"const":{"a":[1,"x"]}}`, `{"a":[1,"x",null]}`, "schema: const"},
		{`{"const":"é"}`, `"\u00e9"`, ""},
		{`{"const":1}`, `true`, "schema: const"},
		{`{"const":null}`, `null`, ""},
		{`{"const":null}`, `0`, "schema: const"},

		// Lengths count code points.
		{`{"minLength":2,"maxLength":3}`, `"ab"`, ""},
		{`{"minLength":2,"maxLength":3}`, `"héé"`, ""},
		{`{"minLength":2,"maxLength":3}`, `"日本語"`, ""},
		{`{"minLength":2,"maxLength":3}`, `"😀😀😀"`, ""},
		{`{"minLength":2,"maxLength":3}`, `"\u00e9\u00e9\u00e9"`, ""},
		{`{"minLength":2,"maxLength":3}`, `"\ud83d\ude00"`, "schema: minLength"},
		{`{"minLength":2,"maxLength":3}`, `"a"`, "schema: minLength"},
		{`{"minLength":2,"maxLength":3}`, `""`, "schema: minLength"},
		{`{"minLength":2,"maxLength":3}`, `"abcd"`, "schema: maxLength"},
		{`{"minLength":2,"maxLength":3}`, `"日本語x"`, "schema: maxLength"},
		{`{"minLength":2,"maxLength":3}`, `"a\nbc"`, "schema: maxLength"},
		{`{"minLength":2,"maxLength":3}`, `12345`, ""}, // not a string
		{`{"maxLength":0}`, `""`, ""},

		// pattern is unanchored RE2, on the unescaped string.
		{`{"pattern":"cat"}`, `"concatenate"`, ""},
		{`{"pattern":"cat"}`, `"dog"`, "schema: pattern"},
		{`{"pattern":"^[a-z]+\\.[0-9]+$"}`, `"room.42"`, ""},
		{`{"pattern":"^[a-z]+\\.[0-9]+$"}`, `"room\u002e42"`, ""},
		{`{"pattern":"^[a-z]+\\.[0-9]+$"}`, `"room.42\n"`, "schema: pattern"},
		{`{"pattern":"^[a-z]+\\.[0-9]+$"}`, `"Room.42"`, "schema: pattern"},
		{`{"pattern":"^.$"}`, `"é"`, ""},
		{`{"pattern":"^x"}`, `42`, ""},

		{`{"minimum":1,"maximum":10}`, `1`, ""},
		{`{"minimum":1,"maximum":10}`, `10`, ""},
		{`{"minimum":1,"maximum":10}`, `1e1`, ""},
		{`{"minimum":1,"maximum":10}`, `0.999`, "schema: minimum"},
		{`{"minimum":1,"maximum":10}`, `-1e400`, "schema: minimum"},
		{`{"minimum":1,"maximum":10}`, `10.5`, "schema: maximum"},
		{`{"minimum":1,"maximum":10}`, `1e400`, "schema: maximum"},
		{`{"minimum":1,"maximum":10}`, `"100"`, ""},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, `0.5`, ""},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, `0`, "schema: exclusiveMinimum"},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, `-0`, "schema: exclusiveMinimum"},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, `1`, "schema: exclusiveMaximum"},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, `1.0`, "schema: exclusiveMaximum"},

		{`{"minProperties":1,"maxProperties":2}`, `{"a":1}`, ""},
		{`{"minProperties":1,"maxProperties":2}`, `{"a":1,"b":2}`, ""},
		{`{"minProperties":1,"maxProperties":2}`, `{}`, "schema: minProperties"},
		{`{"minProperties":1,"maxProperties":2}`, `{"a":1,"b":2,"c":3}`, "schema: maxProperties"},
		{`{"minProperties":1,"maxProperties":2}`, `[]`, ""},

		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1]`, ""},
		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1,2]`, ""},
		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[]`, "schema: minItems"},
		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1,2,3]`, "schema: maxItems"},
		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `[1,"2"]`, "schema: /items: type"},
		{`{"items":{"type":"integer"},"minItems":1,"maxItems":2}`, `{}`, ""},
		{`{"items":false}`, `[]`, ""},
		{`{"items":false}`, `[1]`, "schema: /items: false"},
		{`{"items":true,"maxItems":1}`, `[[1]]`, ""},

		{`{"required":["a","b"]}`, `{"b":1,"a":2}`, ""},
		{`{"required":["a","b"]}`, `{"\u0061":1,"b":2}`, ""},
		{`{"required":["a","b"]}`, `{"a":1}`, "schema: required"},
		{`{"required":["a","b"]}`, `{"a":1,"a":2}`, "schema: required"},
		{`{"required":["a","b"]}`, `[]`, ""},
		{`{"required":["a"],"additionalProperties":false}`, `{"a":1}`, "schema: /additionalProperties: false"},
		{`{"properties":{"a":{}},"additionalProperties":{"type":"integer"}}`, `{"a":"x","b":1}`, ""},
		{`{"properties":{"a":{}},"additionalProperties":{"type":"integer"}}`, `{"a":"x","b":"y"}`, "schema: /additionalProperties: type"},
		{`{"properties":{"x":false}}`, `{"y":1}`, ""},
		{`{"properties":{"x":false}}`, `{"x":1}`, "schema: /properties/x: false"},
		{`{"properties":{"a/b~c":{"type":"string"}}}`, `{"a/b~c":1}`, "schema: /properties/a~1b~0c: type"},
		{`{"properties":{"a":{"type":"string"}},"required":["a"]}`, `{"a":1}`, "schema: /properties/a: type"},

		{many, `{"a":"x","i":1}`, ""},
		{many, `{"i":"x"}`, "schema: /properties/i: type"},
		{many, `{"b":1,"z":1}`, "schema: /additionalProperties: false"},
		{many, `{"a":"x"}`, "schema: required"},

		// Annotations are ignored.
		{`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"urn:x","title":"t","description":"d","$comment":"c","examples":[1],"default":2,"type":"string"}`, `"x"`, ""},
		{`{"title":"t","description":"d"}`, `1`, ""},
	}
	for _, tt := range tests {
		s := mustCompileSchema(t, tt.schema)
		t.Run(tt.schema+" "+tt.msg, func(t *testing.T) {
			checkValidate(t, NewValidator(s, 0), tt.msg, SchemaViolation, tt.reason)
		})
	}
}

// messageSchema is the kind of schema wssd is given: a few typed members,
// nothing else allowed.
const messageSchema = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"title": "client message",
	"type": "object",
	"required": ["op", "topic", "id"],
	"additionalProperties": false,
	"properties": {
		"op": {"enum": ["publish", "subscribe", "unsubscribe"]},
		"topic": {"type": "string", "maxLength": 64, "pattern": "^[a-z0-9][a-z0-9.-]*$"},
		"id": {"type": "integer", "minimum": 0},
		"data": {
			"type": "object",
			"required": ["text"],
			"additionalProperties": false,
			"properties": {
				"text": {"type": "string", "maxLength": 1000},
				"from": {"type": "string", "minLength": 1, "maxLength": 32},
				"tags": {"type": "array", "maxItems": 8, "items": {"type": "string", "maxLength": 16}}
			}
		},
		"ts": {"type": "number", "exclusiveMinimum": 0}
	}
}`

const benchMessage = `{"op":"publish","topic":"chat.room-42","id":17,"data":{"text":"the meeting moves to 3pm; bring the slides and the numbers for the third quarter","from":"alice"},"ts":1718035200123}`

func TestValidateMessages(t *testing.T) {
	v := NewValidator(mustCompileSchema(t, messageSchema), 0)
	tests := []struct{ msg, reason string }{
		{benchMessage, ""},
		{`{"op":"subscribe","topic":"news","id":0}`, ""},
		{` {"id":1e2,"topic":"a","op":"unsubscribe","data":{"text":"","tags":[]}} `, ""},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["a","b"]}}`, ""},
		{`{"op":"publish","topic":"chat"}`, "schema: required"},
		{`{"op":"delete","topic":"chat","id":1}`, "schema: /properties/op: enum"},
		{`{"op":"publish","topic":"Chat","id":1}`, "schema: /properties/topic: pattern"},
		{`{"op":"publish","topic":"chat","id":-1}`, "schema: /properties/id: minimum"},
		{`{"op":"publish","topic":"chat","id":1.5}`, "schema: /properties/id: type"},
		{`{"op":"publish","topic":"chat","id":1,"ts":0}`, "schema: /properties/ts: exclusiveMinimum"},
		{`{"op":"publish","topic":"chat","id":1,"admin":true}`, "schema: /additionalProperties: false"},
		{`{"op":"publish","topic":"chat","id":1,"data":{}}`, "schema: /properties/data: required"},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","from":""}}`, "schema: /properties/data/properties/from: minLength"},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","to":"bob"}}`, "schema: /properties/data/additionalProperties: false"},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["a",2]}}`, "schema: /properties/data/properties/tags/items: type"},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["aaaaaaaaaaaaaaaaa"]}}`, "schema: /properties/data/properties/tags/items: maxLength"},
		{`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":[1,2,3,4,5,6,7,8,9]}}`, "schema: /properties/data/properties/tags: maxItems"},
		// A repeated name has every occurrence checked, and an escaped
		// name is its unescaped self.
		{`{"op":"publish","op":"delete","topic":"chat","id":1}`, "schema: /properties/op: enum"},
		{`{"op":"publish","\u006fp":"delete","topic":"chat","id":1}`, "schema: /properties/op: enum"},
		{`[]`, "schema: type"},
	}
	for _, tt := range tests {
		checkValidate(t, v, tt.msg, SchemaViolation, tt.reason)
	}
}

// invalidJSON are messages that are not one well-formed JSON value.
var invalidJSON = []string{
	``, ` `, `{`, `[1,2`, `{"a":1`, `"abc`, `{"a":`, `[`, `{"a"`,
	`{"a":1}x`, `[1] [2]`, `1 2`, `{}}`, `[]]`, `"a""b"`,
	`tru`, `nul`, `fals`, `True`, `NULL`, `undefined`, `NaN`, `Infinity`, `-Infinity`, `nan`, `inf`,
	`-`, `01`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5.5`, `--1`, `1-`, `1ee5`,
	`{"a"}`, `{a:1}`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`,
	`[1,]`, `[,1]`, `[,]`, `[1 2]`, `'a'`,
	`"\x"`, `"\u12"`, `"\u12g4"`, `"\U0041"`, `"\`, `"\"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`,
	`"\ud800\udbff"`, `"\ud800x"`, "\"a\tb\"", "\"a\nb\"", "\"\x00\"", "\"\x1f\"",
	"\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\xef\xbb\xbf{}", "{}\x00", "\x00",
	"[1]\f", "\v1",
}

// validJSON are well-formed, with the edge cases of the grammar.
var validJSON = []string{
	`0`, `-0`, `-0.5e+10`, `1E-2`, `123456789012345678901234567890`, `true`, `false`, `null`,
	`""`, `"\"\\\/\b\f\n\r\t"`, `"\u0000"`, `"\ud83d\ude00"`, `"\uDBFF\uDFFF"`, `"é日😀"`, "\"\xef\xbf\xbd\"",
	`[]`, `{}`, `{"":""}`, " \t\r\n[ 1 , { \"a\" : [ ] } ] \t\r\n", `[[[[]]]]`,
}

func TestValidateJSON(t *testing.T) {
	for _, schema := range []*Schema{nil, mustCompileSchema(t, `true`), mustCompileSchema(t, messageSchema)} {
		v := NewValidator(schema, 0)
		for _, msg := range invalidJSON {
			checkValidate(t, v, msg, InvalidJSON, "invalid JSON")
		}
	}
	for _, schema := range []*Schema{nil, mustCompileSchema(t, `true`), mustCompileSchema(t, `{"minLength":0}`)} {
		v := NewValidator(schema, 0)
		for _, msg := range validJSON {
			checkValidate(t, v, msg, 0, "")
		}
	}
}

func TestValidateDepth(t *testing.T) {
	nest := func(n int, open, inner, close string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	tests := []struct {
		maxDepth int
		msg      string
		kind     InvalidKind
		reason   string
	}{
		{4, nest(4, "[", "1", "]"), 0, ""},
		{4, nest(5, "[", "1", "]"), TooDeep, "JSON nested deeper than 4"},
		{4, nest(5, "[", "", "]"), TooDeep, "JSON nested deeper than 4"},
		{4, nest(4, `{"a":`, "{}", "}"), TooDeep, "JSON nested deeper than 4"},
		{4, nest(3, `{"a":`, "{}", "}"), 0, ""},
		{4, nest(2, `{"a":[`, "1", "]}"), 0, ""},
		{4, nest(3, `{"a":[`, "1", "]}"), TooDeep, "JSON nested deeper than 4"},
		{4, `[[[[1]]],[[[2]]],{"a":{"b":{"c":1}}}]`, 0, ""},
		// Brackets in strings are not nesting, and an escaped quote does
		// not end a string, while an escaped backslash does not escape it.
		{4, `["[[[[[[[[[[{{{{{{{{"]`, 0, ""},
		{4, `{"[[[[[[[[":"{{{{{{{{{"}`, 0, ""},
		{4, `["\"[[[[[[[[[[[["]`, 0, ""},
		{4, `["\\\"[[[[[[[[["]`, 0, ""},
		{4, `["\\",[[[[1]]]]]`, TooDeep, "JSON nested deeper than 4"},
		// Too deep is found before the end, whatever follows.
		{4, strings.Repeat("[", 100), TooDeep, "JSON nested deeper than 4"},
		{4, `[[[[[}`, TooDeep, "JSON nested deeper than 4"},
		{4, `[[[[}`, InvalidJSON, "invalid JSON"},
		{4, `[x,[[[[[1]]]]]]`, InvalidJSON, "invalid JSON"},
		{0, nest(32, "[", "1", "]"), 0, ""},
		{0, nest(33, "[", "1", "]"), TooDeep, "JSON nested deeper than 32"},
		{-1, nest(33, "[", "1", "]"), TooDeep, "JSON nested deeper than 32"},
		// fastjson's parser refuses what nests deeper than 299.
		{1000, nest(299, "[", "1", "]"), 0, ""},
		{1000, nest(300, "[", "", "]"), TooDeep, "JSON nested deeper than 299"},
	}
	for _, schema := range []*Schema{nil, mustCompileSchema(t, `{"type":["array","object"],"items":{"minItems":0}}`)} {
		for _, tt := range tests {
			checkValidate(t, NewValidator(schema, tt.maxDepth), tt.msg, tt.kind, tt.reason)
		}
	}
}

func TestValidateManyRequired(t *testing.T) {
	var names, members []string
	for i := range 70 {
		names = append(names, fmt.Sprintf("%q", fmt.Sprint("k", i)))
		members = append(members, fmt.Sprintf(`"k%d":%d`, i, i))
	}
	v := NewValidator(mustCompileSchema(t, `{"required":[`+strings.Join(names, ",")+`]}`), 0)
	checkValidate(t, v, "{"+strings.Join(members, ",")+"}", 0, "")
	for _, missing := range []int{0, 3, 63, 64, 69} {
		rest := append(append([]string(nil), members[:missing]...), members[missing+1:]...)
		checkValidate(t, v, "{"+strings.Join(rest, ",")+"}", SchemaViolation, "schema: required")
	}
}

func TestInvalidReasonTruncated(t *testing.T) {
	long := strings.Repeat("n", 150)
	v := NewValidator(mustCompileSchema(t, `{"properties":{"a":{"properties":{"`+long+`":{"maxLength":1}}}}}`), 0)
	got := v.Validate([]byte(`{"a":{"` + long + `":"xy"}}`))
	if got == nil || got.Kind != SchemaViolation {
		t.Fatalf("Validate = %+v, want a schema violation", got)
	}
	if len(got.Reason) > 100 || !strings.HasPrefix(got.Reason, "schema: ...nnn") || !strings.HasSuffix(got.Reason, "nnn: maxLength") {
		t.Errorf("Reason = %q (%d bytes), want at most 100 bytes keeping the end", got.Reason, len(got.Reason))
	}
	// A cut never splits a code point.
	multi := strings.Repeat("é", 80)
	v = NewValidator(mustCompileSchema(t, `{"properties":{"`+multi+`":false}}`), 0)
	got = v.Validate([]byte(`{"` + multi + `":1}`))
	if got == nil || len(got.Reason) > 100 || !utf8.ValidString(got.Reason) || !strings.HasSuffix(got.Reason, "é: false") {
		t.Errorf("Reason = %+v, want at most 100 bytes of UTF-8", got)
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	tests := []struct{ schema, err string }{
		{``, `security: schema: invalid JSON`},
		{`{"type":"string"`, `security: schema: invalid JSON`},
		{`{"pattern":"\ud800"}`, `security: schema: invalid JSON`},
		{strings.Repeat("[", 300) + strings.Repeat("]", 300), `security: schema: JSON nested deeper than 299`},
		{`1`, `security: schema: a schema is an object or a boolean, not a number`},
		{`{"maxlength":3}`, `security: schema: unknown keyword "maxlength"`},
		{`{"properties":{"a":{"Type":"string"}}}`, `security: schema /properties/a: unknown keyword "Type"`},
		{`{"properties":{"a":{"oneOf":[]}}}`, `security: schema /properties/a: unsupported keyword "oneOf": wssd enforces a subset of JSON Schema`},
		{`{"$ref":"#/$defs/x"}`, `security: schema: unsupported keyword "$ref": wssd enforces a subset of JSON Schema`},
		{`{"items":{"format":"email"}}`, `security: schema /items: unsupported keyword "format": wssd enforces a subset of JSON Schema`},
		{`{"patternProperties":{}}`, `security: schema: unsupported keyword "patternProperties": wssd enforces a subset of JSON Schema`},
		{`{"prefixItems":[]}`, `security: schema: unsupported keyword "prefixItems": wssd enforces a subset of JSON Schema`},
		{`{"if":{}}`, `security: schema: unsupported keyword "if": wssd enforces a subset of JSON Schema`},
		{`{"additionalProperties":{"anyOf":[]}}`, `security: schema /additionalProperties: unsupported keyword "anyOf": wssd enforces a subset of JSON Schema`},
		{`{"type":"string","type":"number"}`, `security: schema: keyword "type" appears twice`},
		{`{"title":"a","title":"b"}`, `security: schema: keyword "title" appears twice`},
		{`{"minLength":"x"}`, `security: schema: minLength must be a non-negative integer, not "x"`},
		{`{"minLength":-1}`, `security: schema: minLength must be a non-negative integer, not -1`},
		{`{"maxLength":1.5}`, `security: schema: maxLength must be a non-negative integer, not 1.5`},
		{`{"maxItems":null}`, `security: schema: maxItems must be a non-negative integer, not null`},
		{`{"minProperties":true}`, `security: schema: minProperties must be a non-negative integer, not true`},
		{`{"maximum":"1"}`, `security: schema: maximum must be a number, not a string`},
		{`{"exclusiveMinimum":true}`, `security: schema: exclusiveMinimum must be a number, not a boolean`},
		{`{"pattern":"("}`, "security: schema: pattern: error parsing regexp: missing closing ): `(`"},
		{`{"pattern":"(?=a)"}`, "security: schema: pattern: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{`{"pattern":1}`, `security: schema: pattern must be a string, not a number`},
		{`{"required":"a"}`, `security: schema: required must be an array of strings, not a string`},
		{`{"required":[1]}`, `security: schema: required must be an array of strings; element 0 is a number`},
		{`{"required":["a","a"]}`, `security: schema: required names "a" twice`},
		{`{"type":"int"}`, `security: schema: unknown type "int"`},
		{`{"type":1}`, `security: schema: type must be a string or an array of strings`},
		{`{"type":[]}`, `security: schema: type must not be an empty array`},
		{`{"type":["string","string"]}`, `security: schema: type "string" appears twice`},
		{`{"enum":[]}`, `security: schema: enum must be a non-empty array`},
		{`{"enum":"a"}`, `security: schema: enum must be a non-empty array`},
		{`{"enum":[1,{"a":1,"a":2}]}`, `security: schema /enum/1: member "a" appears twice in a value`},
		{`{"const":{"a":1,"a":2}}`, `security: schema /const: member "a" appears twice in a value`},
		{`{"items":[{}]}`, `security: schema: items must be one schema; the array form (tuples) is not supported`},
		{`{"items":1}`, `security: schema /items: a schema is an object or a boolean, not a number`},
		{`{"properties":[]}`, `security: schema: properties must be an object, not an array`},
		{`{"properties":{"a":{},"a":{}}}`, `security: schema: property "a" appears twice in properties`},
		{`{"properties":{"a/b":{"minLength":"1"}}}`, `security: schema /properties/a~1b: minLength must be a non-negative integer, not "1"`},
		{`{"additionalProperties":1}`, `security: schema /additionalProperties: a schema is an object or a boolean, not a number`},
	}
	for _, tt := range tests {
		s, err := CompileSchema([]byte(tt.schema))
		if err == nil || err.Error() != tt.err {
			t.Errorf("CompileSchema(%.40s) = %v, %v; want error %q", tt.schema, s, err, tt.err)
		}
	}
}

func TestValidateAllocs(t *testing.T) {
	v := NewValidator(mustCompileSchema(t, messageSchema), 0)
	for _, msg := range []string{
		benchMessage,
		`{"op":"publish","topic":"Chat","id":1}`,
		`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["a",2]}}`,
		`{"op":"publish","\u006fp":"publish","topic":"chat","id":1.0,"data":{"text":"\u00e9\ud83d\ude00"}}`,
		`{"op":"publish"`,
		strings.Repeat("[", 40),
	} {
		b := []byte(msg)
		if n := testing.AllocsPerRun(100, func() { v.Validate(b) }); n != 0 {
			t.Errorf("Validate(%s) allocates %v times", msg, n)
		}
	}
}

// TestValidatorReuse checks that a validator carries nothing from one
// message to the next: the parser's reused memory must not leak into the
// verdict on a later message.
func TestValidatorReuse(t *testing.T) {
	s := mustCompileSchema(t, messageSchema)
	msgs := []string{
		benchMessage,
		`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["a",2]}}`,
		`{"op":"delete","topic":"chat","id":1}`,
		`{"op":"subscribe","topic":"news","id":0}`,
		`[1,2,3]`,
		`{"op":"publish","\u006fp":"delete","topic":"chat","id":1}`,
		`{"op":"publish","topic":"chat","id":1,"admin":true}`,
	}
	shared := NewValidator(s, 0)
	for range 3 {
		for _, m := range msgs {
			got, want := shared.Validate([]byte(m)), NewValidator(s, 0).Validate([]byte(m))
			if (got == nil) != (want == nil) || got != nil && got.Reason != want.Reason {
				t.Errorf("reused Validate(%s) = %+v, fresh %+v", m, got, want)
			}
		}
	}
}

// TestSchemaConcurrent shares one Schema between validators on several
// goroutines, as event loops do; run with -race.
func TestSchemaConcurrent(t *testing.T) {
	s := mustCompileSchema(t, messageSchema)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			v := NewValidator(s, 0)
			for range 200 {
				if got := v.Validate([]byte(benchMessage)); got != nil {
					t.Errorf("Validate = %+v", got)
					return
				}
				if got := v.Validate([]byte(`{"op":"publish","topic":"Chat","id":1}`)); got == nil || got.Reason != "schema: /properties/topic: pattern" {
					t.Errorf("Validate = %+v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClassRun(t *testing.T) {
	tests := []struct {
		expr string
		fast bool // matched by a classRun rather than the regexp
	}{
		{`^[a-z0-9][a-z0-9.-]*$`, true},
		{`^[A-Za-z0-9_-]{1,4}$`, true},
		{`^user-[0-9]+$`, true},
		{`^[0-9a-f]{8}$`, true},
		{`^[a-z]+\.[0-9]+$`, true},
		{`^.+$`, true},
		{`^(?s:.)*$`, true},
		{`^\pL+$`, true},
		{`(?i)^[a-c]+$`, true},
		{`^a?b$`, true},
		{`^[^/]{1,3}`, true},
		{`^x`, true},
		{`^`, true},
		{`^$`, true},
		{`\Aab{2}\z`, true},
		{`cat`, false},
		{`^[a-z]*[a-z]$`, false}, // greedy would eat the last letter
		{`^a*b?c$`, false},       // an optional item after a variable one
		{`^[a-z]{1,3}b$`, false}, // overlapping classes
		{`(?i)^ab$`, false},      // a case-folded literal
		{`^(?:ab)+$`, false},     // a repeated sequence
		{`^(a)$`, false},         // a capture
		{`^a|b$`, false},         // an alternation
		{`^\bx`, false},          // an assertion
		{`(?m)^x$`, false},       // lines, not text
	}
	inputs := []string{
		"", "a", "b", "ab", "abb", "abc", "abcd", "aab", "cat", "concatenate", "x", "xy", "x/y", "/",
		"chat.room-42", "Chat", "-chat", "room.", "room.42\n", "user-1", "user-", "user-12a",
		"deadbeef", "DEADBEEF", "deadbee", "deadbeef0", "日本", "é", "a\n", "\n", "\xff", "a\xffb",
	}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.expr)
		run := compileClassRun(tt.expr)
		if (run != nil) != tt.fast {
			t.Errorf("compileClassRun(%q) = %v, want a classRun: %v", tt.expr, run, tt.fast)
			continue
		}
		if run == nil {
			continue
		}
		for _, in := range inputs {
			if got, want := run.match([]byte(in)), re.MatchString(in); got != want {
				t.Errorf("%q matching %q = %v, regexp says %v", tt.expr, in, got, want)
			}
		}
	}
}

// FuzzClassRun checks that a classRun, where there is one, agrees with the
// regexp it stands for.
func FuzzClassRun(f *testing.F) {
	for _, seed := range [][2]string{
		{`^[a-z0-9][a-z0-9.-]*$`, "chat.room-42"},
		{`^[a-z]+\.[0-9]{1,3}$`, "room.421"},
		{`^\pL{2}.?x*`, "日本語xx"},
		{`(?i)^[a-c]+[^a-c]$`, "aBcD"},
		{`^[\x{80}-\x{10FFFF}]+$`, "é\xff"},
	} {
		f.Add(seed[0], []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, expr string, in []byte) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		if run := compileClassRun(expr); run != nil && run.match(in) != re.Match(in) {
			t.Fatalf("%q matching %q = %v, regexp says %v", expr, in, run.match(in), re.Match(in))
		}
	})
}

func TestPlain8(t *testing.T) {
	word := func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
	for pos := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			if got := plain8(word(b)); got != jsonPlain[c] {
				t.Errorf("plain8(%q) = %v, want %v", b, got, jsonPlain[c])
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var b [8]byte
		want := true
		for i := range b {
			// Mostly plain bytes, so that some words are all plain.
			b[i] = byte(0x20 + rng.IntN(0x60))
			if rng.IntN(16) == 0 {
				b[i] = byte(rng.IntN(256))
			}
			want = want && jsonPlain[b[i]]
		}
		if got := plain8(word(b[:])); got != want {
			t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestInvalidKindString(t *testing.T) {
	for k, want := range map[InvalidKind]string{InvalidJSON: "invalid_json", TooDeep: "too_deep", SchemaViolation: "schema", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("InvalidKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func FuzzValidate(f *testing.F) {
	s := mustCompileSchema(f, messageSchema)
	v := NewValidator(s, 8)
	bare := NewValidator(nil, 8)
	for _, seed := range []string{
		benchMessage,
		`{"op":"subscribe","topic":"news","id":0}`,
		`{"op":"publish","topic":"chat","id":1,"data":{"text":"x","tags":["a",2]}}`,
		`{"op":"publish","\u006fp":"delete","topic":"chat","id":1e0}`,
		`{"op":"publish","topic":"\ud83d\ude00","id":1.5,"ts":-0}`,
		`[[[[[[[[[["\"[[[["]]]]]]]]]]`,
		`{"a":"\\"}`,
		`"\ud800\u0041"`,
		`-0.5e+10`,
		`{"op":"publish","topic":"chat","id":1,}`,
		"\"\xed\xa0\x80\"",
		`{"data":{"tags":[]}, "id": 9007199254740993.5}`,
		` null `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)
		got := v.Validate(msg)
		if !bytes.Equal(msg, orig) {
			t.Fatalf("Validate modified its input")
		}
		fjErr := fastjson.ValidateBytes(msg)
		if got == nil && fjErr != nil {
			t.Fatalf("Validate accepted %q, which fastjson refuses: %v", msg, fjErr)
		}
		if got == nil && !json.Valid(msg) {
			t.Fatalf("Validate accepted %q, which encoding/json refuses", msg)
		}
		if fjErr != nil && got.Kind != InvalidJSON && got.Kind != TooDeep {
			t.Fatalf("Validate(%q) = %+v for what fastjson refuses: %v", msg, got, fjErr)
		}
		if got != nil && (got.Reason == "" || len(got.Reason) > 100) {
			t.Fatalf("Validate(%q) = %+v: bad reason", msg, got)
		}
		// The schema adds refusals, never acceptances, and never changes
		// what is well-formed.
		b := bare.Validate(msg)
		if got == nil && b != nil || b != nil && got.Kind != b.Kind || b == nil && got != nil && got.Kind != SchemaViolation {
			t.Fatalf("Validate(%q) = %+v with the schema, %+v without", msg, got, b)
		}
		// Not over-strict: what encoding/json takes is refused only for
		// depth or for what Validator documents refusing (invalid UTF-8,
		// unpaired surrogates, which only a \u escape can make).
		if b != nil && b.Kind == InvalidJSON && json.Valid(msg) && utf8.Valid(msg) && !bytes.Contains(msg, []byte(`\u`)) {
			t.Fatalf("Validate(%q) = invalid JSON, which encoding/json takes", msg)
		}
		// A fresh validator agrees with the reused one.
		fresh := NewValidator(s, 8).Validate(msg)
		if (fresh == nil) != (got == nil) || fresh != nil && fresh.Reason != got.Reason {
			t.Fatalf("Validate(%q) = %+v reused, %+v fresh", msg, got, fresh)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	v := NewValidator(mustCompileSchema(b, messageSchema), 0)
	msg := []byte(benchMessage)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if bad := v.Validate(msg); bad != nil {
			b.Fatal(bad.Reason)
		}
	}
}

// BenchmarkValidateInvalid refuses a message on its last member, after
// checking all the others.
func BenchmarkValidateInvalid(b *testing.B) {
	v := NewValidator(mustCompileSchema(b, messageSchema), 0)
	msg := []byte(strings.Replace(benchMessage, `"ts":1718035200123`, `"ts":-1`, 1))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if bad := v.Validate(msg); bad == nil || bad.Reason != "schema: /properties/ts: exclusiveMinimum" {
			b.Fatal(bad)
		}
	}
}

// BenchmarkValidateNoSchema is the well-formedness and depth scan alone,
// the floor under the two above.
func BenchmarkValidateNoSchema(b *testing.B) {
	v := NewValidator(nil, 0)
	msg := []byte(benchMessage)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if bad := v.Validate(msg); bad != nil {
			b.Fatal(bad.Reason)
		}
	}
}
