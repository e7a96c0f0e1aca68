package sockpacket

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// An Engine is the packet engine for local sockets, a kill.Engine: each
// target is provoked with a SYN from its peer's address, sent through a raw
// socket (it reaches the socket through loopback), its challenge ACK read
// on the interface it leaves by (loopback included), and it and its peer
// are each sent a RST with the sequence number they expect. It needs
// CAP_NET_RAW and no kernel feature beyond raw and packet sockets; it
// reaches orphans (FIN-WAIT-1, FIN-WAIT-2, LAST-ACK, CLOSING) whose answers
// can leave the host. A socket whose answer never shows (its peer's route
// or link-layer address gone, or the challenge ACK limits winning for the
// whole wait) is reported unreachable by this engine and left alone.
type Engine struct {
	// Conn looks the targets up again (the diag engine's dump).
	Conn *sockdiag.Conn
	// NS is the targets' network namespace, where the segments are sent
	// and read; nil for the one tcpreap runs in.
	NS *host.Namespace
	// Wait is how long a socket has to answer: DefaultWait when 0.
	Wait time.Duration
}

func (*Engine) Name() string { return "packet" }

func (e *Engine) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	return e.Conn.Lookup(ctx, targets)
}

// Doubtful: a reset is seen only by the socket, and a socket that answered
// with a reset may have closed or been replaced: both are looked up again.
func (*Engine) Doubtful(_ context.Context, _ *sockdiag.Socket, err error) bool {
	return err == nil || errors.Is(err, sockdiag.ErrGone)
}

// resettable are the states in which a socket answers a SYN with a
// challenge ACK and takes a RST: synchronized, with a peer. A SYN to a
// SYN-SENT socket would be a simultaneous open, to a TIME-WAIT one a new
// connection, to a listener a handshake.
const resettable = 1<<sockdiag.Established | 1<<sockdiag.FinWait1 | 1<<sockdiag.FinWait2 |
	1<<sockdiag.CloseWait | 1<<sockdiag.LastAck | 1<<sockdiag.Closing

// What the packet engine answers for a target it leaves alone.
var (
	errUDP = sockdiag.NewRefusal("a UDP socket: UDP has no reset", "")
	// ErrUnreachable: the socket never answered its provocation.
	ErrUnreachable = sockdiag.NewCause(
		"unreachable by the packet engine: no answer to a forged SYN (its peer gone or unreachable, or a challenge ACK limit won)",
		"some sockets did not answer the packet engine's forged SYN: their peer's route or link-layer address is gone, or the kernel's challenge ACK limits (tcp_challenge_ack_limit, tcp_invalid_ratelimit) swallowed every answer; they were left alone",
	)
	errPrivilege = sockdiag.NewRefusal(ErrNoPrivilege.Error(), "the packet engine needs CAP_NET_RAW in the sockets' network namespace (try sudo)")
	// ErrLimitWon: no socket answered, and the kernel counted the
	// challenge ACKs it swallowed and sent none.
	ErrLimitWon = sockdiag.NewCause(
		"the kernel's challenge ACK rate limit swallowed every answer to the packet engine's forged SYNs",
		"the kernel's challenge ACK rate limit (net.ipv4.tcp_invalid_ratelimit per socket, tcp_challenge_ack_limit per namespace) swallowed every answer to the packet engine's forged SYNs within its wait; the sockets were left alone: try again once the limit has passed",
	)
)

// The TcpExt counters that tell a challenge ACK sent from one the rate
// limits swallowed: a full socket's (tcp_send_challenge_ack), a FIN-WAIT-2
// timewait socket's (tcp_timewait_check_oow_rate_limit).
var (
	challengesSent      = []string{"TCPChallengeACK"}
	challengesSwallowed = []string{"TCPACKSkippedChallenge", "TCPACKSkippedFinWait2"}
)

// counted is the sum of the counters names of before and after, each
// after minus before.
func counted(before, after map[string]uint64, names []string) uint64 {
	var n uint64
	for _, name := range names {
		n += after[name] - before[name]
	}
	return n
}

func stateRefusal(s sockdiag.State) error {
	why := fmt.Sprintf("a %s socket: a forged SYN there may start a connection instead of provoking an answer", s.Label())
	return sockdiag.NewRefusal(why, "some sockets are in a state (SYN-SENT, SYN-RECV, TIME-WAIT, LISTEN, CLOSE) where a forged SYN may open a connection instead of provoking an answer: the packet engine leaves them alone")
}

// Destroy resets each TCP target in a synchronized state, all at once, in
// the targets' namespace, and answers for each: nil when it answered and
// was sent its RST, sockdiag.ErrGone when it answered with a reset (it has
// closed), ErrUnreachable when it never answered, a refusal for a socket
// the engine leaves alone or without CAP_NET_RAW; after ctx ends,
// sockdiag.ErrNotAttempted and its cause. It takes Wait and a fraction of
// a second for each 128 targets.
func (e *Engine) Destroy(ctx context.Context, targets []sockdiag.Socket, progress func(int)) []error {
	errs := make([]error, len(targets))
	var ends []End
	var at []int
	for i, t := range targets {
		switch {
		case t.Protocol != inet.TCP:
			errs[i] = errUDP
		case sockdiag.StateMask(resettable)&(1<<t.State) == 0:
			errs[i] = stateRefusal(t.State)
		default:
			// A socket with a zone (link-local) keeps it: the raw socket
			// routes by the address alone.
			local := netip.AddrPortFrom(t.ID.Local.Addr().WithZone(""), t.ID.Local.Port())
			peer := netip.AddrPortFrom(t.ID.Remote.Addr().WithZone(""), t.ID.Remote.Port())
			ends, at = append(ends, End{Addr: local, Peer: peer, AlsoPeer: true}), append(at, i)
		}
	}
	if len(ends) > 0 {
		var answers []error
		var sent, swallowed uint64
		err := e.NS.Do(func() (err error) {
			names := append(slices.Clone(challengesSent), challengesSwallowed...)
			before, cerr := host.TCPExtCounters(names...)
			answers, err = Reset(ctx, ends, Options{Wait: e.Wait})
			if after, aerr := host.TCPExtCounters(names...); cerr == nil && aerr == nil {
				sent, swallowed = counted(before, after, challengesSent), counted(before, after, challengesSwallowed)
			}
			return err
		})
		// Only when the namespace sent no challenge ACK at all can the
		// ones it swallowed be the whole story of the silence.
		limitWon := sent == 0 && swallowed > 0
		for k, i := range at {
			switch {
			case errors.Is(err, ErrNoPrivilege):
				errs[i] = errPrivilege
			case err != nil:
				errs[i] = fmt.Errorf("the packet engine cannot run here: %w", err)
			default:
				errs[i] = answer(ctx, answers[k], limitWon)
			}
		}
	}
	if progress != nil {
		progress(len(targets))
	}
	return errs
}

// answer is the engine's answer for a socket Reset answered err for;
// limitWon, when the rate limit swallowed every challenge ACK of the run.
func answer(ctx context.Context, err error, limitWon bool) error {
	var no *NoAnswerError
	switch {
	case err == nil, errors.Is(err, ErrUnconfirmed):
		// The second look tells whether the socket is gone.
		return nil
	case errors.Is(err, ErrNoConnection):
		return sockdiag.ErrGone
	case errors.As(err, &no) && limitWon:
		return ErrLimitWon
	case errors.As(err, &no):
		return ErrUnreachable
	case ctx.Err() != nil && errors.Is(err, context.Cause(ctx)):
		return fmt.Errorf("%w: %w", sockdiag.ErrNotAttempted, err)
	}
	return err
}
