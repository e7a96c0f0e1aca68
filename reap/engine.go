package reap

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockfd"
)

// EngineNames are the names of the engines, as each result records the
// one that acted (kill.Result's Engine), in the order auto prefers them:
// SOCK_DESTROY's (sockdiag), then the owner's descriptor (sockfd).
var EngineNames = []string{"diag", "fd"}

// Auto is the engine choice that takes SOCK_DESTROY (diag) and, for the
// targets it refuses (kill.Refused: a kernel without SOCK_DESTROY, an
// MPTCP listener), the next engine this host offers.
const Auto = "auto"

// ParseEngine reads an engine choice: auto, or the name of an engine
// (EngineNames). An error starts with the word.
func ParseEngine(word string) (string, error) {
	if word == Auto || word == "diag" || word == "fd" {
		return word, nil
	}
	return "", fmt.Errorf("%q: give %s, %s", word, Auto, strings.Join(EngineNames, " or "))
}

// An UnofferedError is an engine this host cannot offer, and why.
type UnofferedError struct {
	Engine string
	Why    string
}

func (e *UnofferedError) Error() string {
	return fmt.Sprintf("%s: %s", e.Engine, e.Why)
}

// Offered returns nil when this host offers the engine choice, else an
// *UnofferedError that says why not. auto is always offered, and so is
// diag: whether the kernel destroys a protocol's sockets is each target's
// answer, as it always was.
func Offered(engine string) error {
	if engine == "fd" {
		if why := sockfd.Offered(); why != "" {
			return &UnofferedError{Engine: engine, Why: why}
		}
	}
	return nil
}

// engines are the engine a part executes its plan with and, for auto,
// those it falls back to, as choice says; holders are read once for every
// part, by the first fd engine that needs them.
type engines struct {
	choice  string
	holders func() (map[uint32][]host.Owner, error)
}

func newEngines(choice string) engines {
	return engines{choice: choice, holders: sync.OnceValues(sockfd.ReadHolders)}
}

// of is the engine for the plan of conn's namespace, and its fallbacks.
func (e engines) of(conn *sockdiag.Conn) (kill.Engine, []kill.Engine) {
	fd := &sockfd.Engine{Conn: conn, Holders: e.holders}
	switch e.choice {
	case "fd":
		return fd, nil
	case "diag":
		return conn, nil
	}
	if sockfd.Offered() == "" {
		return conn, []kill.Engine{fd}
	}
	return conn, nil
}
