package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Scenario is what a run does: one of Connect, Echo, Handshake, Churn,
// PubSub and SocketIO (see Config). It reads and writes as its name, in
// text, JSON and flags: "connect", "echo", "handshake", "churn",
// "pubsub", "socketio". The zero Scenario is none: its name is "", and
// Run refuses it.
type Scenario uint8

// The scenarios, in the order wssbench lists them.
const (
	Connect   Scenario = iota + 1 // hold Conns connections for Hold
	Echo                          // messages echoed on Conns connections
	Handshake                     // connections opened and closed once upgraded
	Churn                         // Conns connections, ChurnRate of them replaced a second
	PubSub                        // publications fanned out to subscribers
	SocketIO                      // Socket.IO events acknowledged on Conns sessions
)

// scenarioNames are the scenarios' names, by value.
var scenarioNames = [...]string{
	Connect:   "connect",
	Echo:      "echo",
	Handshake: "handshake",
	Churn:     "churn",
	PubSub:    "pubsub",
	SocketIO:  "socketio",
}

// ParseScenario is the scenario named s: "connect", "echo", "handshake",
// "churn", "pubsub" or "socketio", in lower case.
func ParseScenario(s string) (Scenario, error) {
	for sc, name := range scenarioNames {
		if sc > 0 && name == s {
			return Scenario(sc), nil
		}
	}
	return 0, fmt.Errorf("unknown scenario %q: %s", s, scenarioList())
}

// scenarioList is the scenarios' names for people: "connect, echo,
// handshake, churn, pubsub or socketio".
func scenarioList() string {
	names := scenarioNames[Connect:]
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// String is the scenario's name; "" for the zero Scenario, and
// "Scenario(n)" for a value that is no scenario.
func (s Scenario) String() string {
	if int(s) < len(scenarioNames) {
		return scenarioNames[s]
	}
	return "Scenario(" + strconv.Itoa(int(s)) + ")"
}

// valid reports whether s is one of the scenarios.
func (s Scenario) valid() bool {
	return s >= Connect && int(s) < len(scenarioNames)
}

// MarshalText is the scenario's name; the zero Scenario's is "". A value
// that is no scenario is an error.
func (s Scenario) MarshalText() ([]byte, error) {
	if s != 0 && !s.valid() {
		return nil, fmt.Errorf("bench: %v is no scenario", s)
	}
	return []byte(scenarioNames[s]), nil
}

// UnmarshalText sets s to the scenario named text, as ParseScenario does;
// "" is the zero Scenario, as MarshalText writes it.
func (s *Scenario) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*s = 0
		return nil
	}
	sc, err := ParseScenario(string(text))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	*s = sc
	return nil
}

// KeepsConns reports whether the scenario's connections stay open
// through the measured part: all but Handshake's, closed once upgraded.
// Where they do, the connections are opened before the measured part
// starts, and the server's memory per connection means something.
func (s Scenario) KeepsConns() bool {
	return s.valid() && s != Handshake
}

// dialsMeasured reports whether the scenario opens connections during its
// measured part: Handshake's stream, Churn's replacements. Those handed to
// the dialers before the end are waited for, opened or failed.
func (s Scenario) dialsMeasured() bool {
	return s == Handshake || s == Churn
}
