package doctor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// An OwnCheck is what a dump showed of a socket of the doctor's own, on
// loopback: a diag module that is missing (or a sandbox that hides sockets)
// makes a dump empty without an error, and only a socket known to be there
// tells.
type OwnCheck struct {
	Local netip.AddrPort // the socket's local address
	Found bool           // the dump had it
	Err   error          // why the check could not be made; Found means nothing then
}

// ownLimit bounds the whole check: opening the sockets, the connection over
// loopback, the dump.
const ownLimit = 5 * time.Second

// errNoLoopback: the namespace has no loopback interface that is up, and so
// no address the doctor could open a socket on without traffic elsewhere.
var errNoLoopback = errors.New("the loopback interface is not up in this network namespace")

// A querier is a sockdiag.Conn, as checkOwn uses it.
type querier interface {
	Query(ctx context.Context, f *sockdiag.Filter, opts ...sockdiag.QueryOption) iter.Seq2[sockdiag.Socket, error]
}

// checkOwn opens a TCP listener and a connection to it, and a UDP socket, on
// 127.0.0.1 (ports the kernel chooses), looks for them in a dump of every
// state, and closes them. It needs no privilege and destroys nothing; it
// takes at most a few seconds. Without loopback up it checks nothing and
// says so in each OwnCheck's Err.
func checkOwn(ctx context.Context, q querier) map[inet.Protocol]OwnCheck {
	ctx, cancel := context.WithTimeout(ctx, ownLimit)
	defer cancel()
	out := map[inet.Protocol]OwnCheck{}
	fail := func(err error) map[inet.Protocol]OwnCheck {
		for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
			out[p] = OwnCheck{Local: out[p].Local, Err: err}
		}
		return out
	}
	if !loopbackUp() {
		return fail(errNoLoopback)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("cannot listen on 127.0.0.1: %w", err))
	}
	defer ln.Close()
	d := net.Dialer{Timeout: ownLimit}
	client, err := d.DialContext(ctx, "tcp4", ln.Addr().String())
	if err != nil {
		return fail(fmt.Errorf("cannot connect over loopback: %w", err))
	}
	// Closed with a reset: no TIME_WAIT socket of the doctor's stays behind.
	_ = client.(*net.TCPConn).SetLinger(0)
	defer client.Close()
	udp, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("cannot open a UDP socket on 127.0.0.1: %w", err))
	}
	defer udp.Close()
	want := map[inet.Protocol]netip.AddrPort{
		inet.TCP: client.LocalAddr().(*net.TCPAddr).AddrPort(),
		inet.UDP: udp.LocalAddr().(*net.UDPAddr).AddrPort(),
	}
	for p, a := range want {
		out[p] = OwnCheck{Local: a}
		f := &sockdiag.Filter{
			Protocols:  []inet.Protocol{p},
			Families:   []inet.Family{inet.IPv4},
			States:     sockdiag.AllStates,
			LocalPorts: []inet.PortRange{{Lo: a.Port(), Hi: a.Port()}},
		}
		for s, err := range q.Query(ctx, f) {
			if err != nil {
				out[p] = OwnCheck{Local: a, Err: fmt.Errorf("the dump failed: %w", err)}
				break
			}
			if s.ID.Local == a {
				out[p] = OwnCheck{Local: a, Found: true}
			}
		}
	}
	return out
}

// loopbackUp reports whether the namespace has a loopback interface that is
// up.
func loopbackUp() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 && i.Flags&net.FlagUp != 0 {
			return true
		}
	}
	return false
}
