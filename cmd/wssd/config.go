package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wssd/wssd/engine"
)

// A configuration file (--config FILE) is TOML whose keys are the flags'
// names, without their dashes in front:
//
//	listen = ":443"
//	cert = "/etc/wssd/cert.pem"
//	allowed-origins = ["https://app.example.com", "https://*.example.com"]
//	deflate-threshold = 512
//	ping-interval = "20s"
//
// A list is a flag's comma-separated value as an array; a duration is a
// string ("20s") or a number of seconds. Flags on the command line win
// over the file. A key that is not a flag, or a value its flag refuses,
// is an error that names the key and its line.

// configFlag is the flag that names the file: it cannot be set from one.
const configFlag = "config"

// applyConfigFile sets, from the file at path, every flag of fs that the
// command line did not set (those in given).
func applyConfigFile(fs *flag.FlagSet, path string, given map[string]bool) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var values map[string]any
	if _, err := toml.Decode(string(text), &values); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("--config %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("--config %s: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLine(text, keys[i]) < keyLine(text, keys[j]) })
	for _, key := range keys {
		at := fmt.Sprintf("--config %s: line %d: %s", path, keyLine(text, key), key)
		f := fs.Lookup(key)
		if _, isTable := values[key].(map[string]any); isTable {
			return fmt.Errorf("%s: a table; the file's keys are the flags' names, at the top level", at)
		}
		if f == nil || key == configFlag {
			return fmt.Errorf("%s: not a flag of wssd (see wssd --help)", at)
		}
		v, err := configValue(values[key])
		if err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		if isDuration(f) {
			// TOML has no durations: a number is seconds.
			switch values[key].(type) {
			case int64, float64:
				v += "s"
			}
		}
		if given[key] {
			continue // the command line wins
		}
		if err := fs.Set(key, v); err != nil {
			return fmt.Errorf("%s = %s: %v", at, v, err)
		}
	}
	return nil
}

// configValue is a TOML value as its flag's text: a string as it is, a
// number or a boolean as Go writes it, an array of them joined by commas.
func configValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if _, nested := e.([]any); nested {
				return "", errors.New("an array of arrays")
			}
			s, err := configValue(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case time.Time:
		return "", errors.New("a date, where the flag takes a string or a number")
	default:
		return "", fmt.Errorf("a %T, where the flag takes a string, a number, a boolean or an array", v)
	}
}

// keyLine is the line of the file on which key is set at the top level
// (or starts a table), or 0.
func keyLine(text []byte, key string) int {
	k := `(?:"` + regexp.QuoteMeta(key) + `"|` + regexp.QuoteMeta(key) + `)`
	re := regexp.MustCompile(`(?m)^[ \t]*(?:` + k + `[ \t]*=|\[[ \t]*` + k + `[ \t]*\])`)
	loc := re.FindIndex(text)
	if loc == nil {
		return 0
	}
	return strings.Count(string(text[:loc[0]]), "\n") + 1
}

// isDuration reports whether f takes a duration.
func isDuration(f *flag.Flag) bool {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(time.Duration)
	return ok
}

// liveFlags are the flags SIGHUP puts in force on a running server; a
// change to any other needs a restart. (The certificate files are read
// again on SIGHUP whatever the flags say; a new path needs a restart.)
var liveFlags = map[string]bool{
	"allowed-origins": true, "max-connections": true, "max-conns-per-ip": true,
	"handshake-rate-per-ip": true, "rate-messages": true, "rate-bytes": true, "rate-burst": true,
	"log-level": true,
}

// flagValues is every flag's value, as text, by name.
func flagValues(fs *flag.FlagSet) map[string]string {
	v := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { v[f.Name] = f.Value.String() })
	return v
}

// reloadConfig reads the command line and its configuration file again,
// on SIGHUP: what can change on a running server (liveFlags) is put in
// force, and the log says which settings changed, and which of them need
// a restart. A file that does not read, or values the server refuses,
// keep the configuration in force, and the log says why. running is what
// is in force, updated.
func reloadConfig(srv *engine.Server, args []string, running map[string]string, level *slog.LevelVar, log *slog.Logger) {
	n, fs, err := parseFlagSet(args, io.Discard)
	if err != nil {
		log.Error("configuration reload refused; keeping the current one", "err", err)
		return
	}
	next := flagValues(fs)
	var live, restart []string
	for name, v := range next {
		if running[name] == v {
			continue
		}
		if liveFlags[name] {
			live = append(live, name)
		} else {
			restart = append(restart, name)
		}
	}
	sort.Strings(live)
	sort.Strings(restart)
	if len(live) == 0 && len(restart) == 0 {
		log.Info("configuration reloaded: nothing changed")
		return
	}
	err = srv.Reload(engine.Live{
		Origins:            n.origins,
		MaxConnections:     n.maxConns,
		MaxConnsPerIP:      n.maxConnsPerIP,
		HandshakeRatePerIP: n.handshakeRate,
		MessageRate:        connRate(n.rateMessages, n.rateBurst),
		ByteRate:           connRate(n.rateBytes, n.rateBurst),
	})
	if err != nil {
		log.Error("configuration reload refused; keeping the current one", "err", err)
		return
	}
	level.Set(n.logLevel)
	for _, name := range live {
		running[name] = next[name]
	}
	args2 := []any{"changed", strings.Join(live, ",")}
	if len(restart) > 0 {
		args2 = append(args2, "need_restart", strings.Join(restart, ","))
	}
	// At warn, so that it shows at the levels production runs with, and
	// whatever the new level is.
	log.Warn("configuration reloaded", args2...)
}
