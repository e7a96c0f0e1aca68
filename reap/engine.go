package reap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockbpf"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockfd"
	"github.com/tcpreap/tcpreap/sockpacket"
)

// EngineNames are the names of the engines, as each result records the
// one that acted (kill.Result's Engine), in the order auto prefers them:
// SOCK_DESTROY's (sockdiag), the socket iterators' (sockbpf), the owner's
// descriptor (sockfd), then forged packets (sockpacket).
var EngineNames = []string{"diag", "bpf", "fd", "packet"}

// Auto is the engine choice that takes SOCK_DESTROY (diag) and, for the
// targets it refuses (kill.Refused: a kernel without SOCK_DESTROY, an
// MPTCP listener), the next engine this host offers.
const Auto = "auto"

// ParseEngine reads an engine choice: auto, or the name of an engine
// (EngineNames). An error starts with the word.
func ParseEngine(word string) (string, error) {
	if word == Auto || slices.Contains(EngineNames, word) {
		return word, nil
	}
	return "", fmt.Errorf("%q: give %s, %s", word, Auto, strings.Join(EngineNames, ", "))
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
	if why := whyNot(engine); why != "" {
		return &UnofferedError{Engine: engine, Why: why}
	}
	return nil
}

// whyNot is why this host does not offer the engine, "" when it does.
func whyNot(engine string) string {
	switch engine {
	case "fd":
		return sockfd.Offered()
	case "bpf":
		// A missing privilege is the run's answer (exit 1, the capability
		// named), as for the other engines: the host offers the engine.
		if err := sockbpf.Probe(); err != nil && !errors.Is(err, sockbpf.ErrNoPrivilege) {
			return err.Error()
		}
	}
	return ""
}

// engines are the engine a part executes its plan with and, for auto,
// those it falls back to, as choice says; holders are read once for every
// part, by the first fd engine that needs them, and the bpf engine's
// programs loaded once, by the first that needs them (close unloads them).
type engines struct {
	choice  string
	holders func() (map[uint32][]host.Owner, error)
	bpf     *bpfLoader
}

func newEngines(choice string) engines {
	return engines{choice: choice, holders: sync.OnceValues(sockfd.ReadHolders), bpf: &bpfLoader{}}
}

// close unloads what the engines loaded.
func (e engines) close() { e.bpf.close() }

// of is the engine for the plan of conn's namespace ns, and its fallbacks.
func (e engines) of(conn *sockdiag.Conn, ns *host.Namespace) (kill.Engine, []kill.Engine) {
	fd := &lazyFD{of: sync.OnceValue(func() *sockfd.Engine {
		// The fd engine acts only on sockets of ns, whatever a
		// descriptor's cookie: a kernel without namespace cookies (before
		// 5.14) checks none. Read when the engine is first used: a run
		// that never reaches it enters no namespace for it.
		var netns uint64
		_ = ns.Do(func() (err error) {
			netns, err = sockfd.NamespaceCookie()
			return err
		})
		return &sockfd.Engine{Conn: conn, Holders: e.holders, NetNS: netns}
	})}
	bpf := &bpfEngine{conn: conn, ns: ns, open: e.bpf.open}
	packet := &sockpacket.Engine{Conn: conn, NS: ns}
	switch e.choice {
	case "packet":
		return packet, nil
	case "fd":
		return fd, nil
	case "bpf":
		return bpf, nil
	case "diag":
		return conn, nil
	}
	var fallback []kill.Engine
	if whyNot("bpf") == "" {
		fallback = append(fallback, bpf)
	}
	if whyNot("fd") == "" {
		fallback = append(fallback, fd)
	}
	return conn, append(fallback, packet)
}

// A lazyFD is the fd engine of a namespace, made when first used.
type lazyFD struct{ of func() *sockfd.Engine }

var _ kill.Engine = (*lazyFD)(nil)

func (*lazyFD) Name() string { return "fd" }

func (e *lazyFD) Destroy(ctx context.Context, targets []sockdiag.Socket, progress func(int)) []error {
	return e.of().Destroy(ctx, targets, progress)
}

func (e *lazyFD) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	return e.of().Lookup(ctx, targets)
}

func (e *lazyFD) Doubtful(ctx context.Context, s *sockdiag.Socket, err error) bool {
	return e.of().Doubtful(ctx, s, err)
}
