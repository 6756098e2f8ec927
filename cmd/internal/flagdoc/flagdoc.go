// Package flagdoc prints the commands' flags for their --help, as
// flag.PrintDefaults does, one flag at a time, so that a command can group
// them under headings and leave some out; and it says a default once.
package flagdoc

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Print writes f's entry: "  -name type" and, indented below, its usage.
// The default is added as "(default V)" when it is not the type's zero
// value, unless the usage already says "(default": a usage that explains
// its default (one per scenario, say) is not followed by a second one.
func Print(w io.Writer, f *flag.Flag) {
	var b strings.Builder
	b.WriteString("  -" + f.Name)
	name, usage := flag.UnquoteUsage(f)
	if name != "" {
		b.WriteString(" " + name)
	}
	b.WriteString("\n    \t")
	b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
	if !strings.Contains(usage, "(default") && !isZero(f) {
		if isString(f) {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		} else {
			fmt.Fprintf(&b, " (default %v)", f.DefValue)
		}
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

// isZero reports whether f's default is its type's zero value, which
// flag.PrintDefaults does not print either.
func isZero(f *flag.Flag) (zero bool) {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	defer func() {
		// A Value whose String does not take its zero value: say the
		// default.
		if recover() != nil {
			zero = false
		}
	}()
	v, ok := z.Interface().(flag.Value)
	return ok && f.DefValue == v.String()
}

// isString reports whether f holds a string, whose default is quoted.
func isString(f *flag.Flag) bool {
	t := reflect.TypeOf(f.Value)
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String
}
