package reap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockbpf"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockfd"
)

// EngineNames are the names of the engines, as each result records the
// one that acted (kill.Result's Engine), in the order auto prefers them:
// SOCK_DESTROY's (sockdiag), the socket iterators' (sockbpf), then the
// owner's descriptor (sockfd).
var EngineNames = []string{"diag", "bpf", "fd"}

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

// OtherEngine names the engine that may destroy a target whose answer is
// err where the engine that answered cannot: "diag" (SOCK_DESTROY) for
// the sockets the fd engine cannot reach (no process holds them, a thread
// waits on them) and those bpf_sock_destroy cannot take (TIME-WAIT,
// SYN-RECV); "" when no other engine does more.
func OtherEngine(err error) string {
	if errors.Is(err, sockfd.ErrNoHolder) || errors.Is(err, sockfd.ErrBlocked) || errors.Is(err, errBPFNotFull) {
		return "diag"
	}
	return ""
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
// *UnofferedError that says why not. auto is always offered; diag unless
// the kernel has no SOCK_DESTROY at all (a probe that reaches no socket,
// sockdiag.Conn.Probe), and otherwise whether it destroys a target is
// that target's answer.
func Offered(engine string) error {
	if why := whyNot(engine); why != "" {
		return &UnofferedError{Engine: engine, Why: why}
	}
	return nil
}

// whyNot is why this host does not offer the engine, "" when it does.
func whyNot(engine string) string {
	switch engine {
	case "diag":
		return diagWhyNot()
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

// diagWhyNot is why this kernel does not offer the diag engine: it was
// built without SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY), which the probe
// of TCP's tells in the namespace tcpreap runs in (the option is the
// kernel's, the same in every namespace). A probe that cannot be made
// (no NETLINK_SOCK_DIAG, no TCP diag) leaves the answer to the run.
func diagWhyNot() string {
	conn, err := sockdiag.Dial(nil)
	if err != nil {
		return ""
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), diagProbeTimeout)
	defer cancel()
	if err := conn.Probe(ctx).Destroy[inet.TCP]; errors.Is(err, sockdiag.ErrNoDestroy) {
		return err.Error()
	}
	return ""
}

// diagProbeTimeout bounds the probe of SOCK_DESTROY: a dump of no state
// and a destroy that reaches no socket.
const diagProbeTimeout = 10 * time.Second

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

// of is the engine for the plan of conn's namespace ns, its fallbacks,
// and the engine that closes the MPTCP connections of the plan's subflows
// (nil where the choice has no fd engine).
func (e engines) of(conn *sockdiag.Conn, ns *host.Namespace, subflows map[sockdiag.Cookie]uint32) (kill.Engine, []kill.Engine, kill.Engine) {
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
		return &sockfd.Engine{Conn: conn, Holders: e.holders, NetNS: netns, MPTCP: subflows}
	})}
	var mptcp kill.Engine
	if closesSubflows(e.choice) {
		mptcp = fd
	}
	bpf := &bpfEngine{conn: conn, ns: ns, loader: e.bpf}
	switch e.choice {
	case "fd":
		return fd, nil, mptcp
	case "bpf":
		return bpf, nil, nil
	case "diag":
		return conn, nil, nil
	}
	var fallback []kill.Engine
	if whyNot("bpf") == "" {
		fallback = append(fallback, bpf)
	}
	if whyNot("fd") == "" {
		fallback = append(fallback, fd)
	}
	return conn, fallback, mptcp
}

// closesSubflows reports whether the engine choice closes the MPTCP
// connections of subflows, at their MPTCP socket: fd, and auto where this
// host offers fd. Neither SOCK_DESTROY nor bpf_sock_destroy can: they
// would reset the subflow and leave its connection open.
func closesSubflows(choice string) bool {
	return choice == "fd" || (choice == "" || choice == Auto) && whyNot("fd") == ""
}

// subflowCloser is what decides which MPTCP subflows stay targets, for
// the engine choice (kill.Plan.KeepSubflows): where it closes their
// connections, those some process holds (the fd engine reaches a
// connection only through a descriptor of it); nil, none, elsewhere. The
// holders are read once, when a plan first has a subflow.
func subflowCloser(choice string) func(*sockdiag.Socket) bool {
	if !closesSubflows(choice) {
		return nil
	}
	read := sync.OnceValues(sockfd.ReadHolders)
	return func(s *sockdiag.Socket) bool {
		holders, _ := read()
		return s.Inode != 0 && len(holders[s.Inode]) > 0
	}
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
