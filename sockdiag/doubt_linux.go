package sockdiag

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// probeOrphan makes an orphaned socket (a connection closed by its
// application with data still queued, in FIN_WAIT1), destroys it by its
// cookie and checks that it is gone. It returns why not.
func (c *Conn) probeOrphan(ctx context.Context) error {
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	d := net.Dialer{Timeout: time.Second}
	d.SetMultipathTCP(false)
	client, err := d.DialContext(ctx, "tcp4", l.Addr().String())
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		return err
	}
	// Closed with its data unread, the server resets the orphan: nothing
	// lingers after the probe.
	defer server.Close()
	tc := client.(*net.TCPConn)
	_ = tc.SetWriteBuffer(64 << 10)
	block := make([]byte, 64<<10)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		_ = tc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := tc.Write(block); err != nil {
			break // the receiver's window and the send buffer are full
		}
	}
	var cookie uint64
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) }); err != nil || serr != nil {
		return errors.Join(err, serr)
	}
	orphan := Socket{Protocol: inet.TCP, Family: inet.IPv4, State: FinWait1, ID: SockID{
		Local:  tc.LocalAddr().(*net.TCPAddr).AddrPort(),
		Remote: tc.RemoteAddr().(*net.TCPAddr).AddrPort(),
		Cookie: Cookie(cookie),
	}}
	orphan.ID.Local = netip.AddrPortFrom(orphan.ID.Local.Addr().Unmap(), orphan.ID.Local.Port())
	orphan.ID.Remote = netip.AddrPortFrom(orphan.ID.Remote.Addr().Unmap(), orphan.ID.Remote.Port())
	tc.Close() // an orphan now, its data still queued
	errs := make([]error, 1)
	if c.sendBatch(ctx, c.c, []Socket{orphan}, errs) {
		c.renew()
	}
	if errs[0] != nil {
		return errs[0]
	}
	seen := c.lookupExact(ctx, []Socket{orphan})
	switch {
	case seen[0].Err != nil:
		return seen[0].Err
	case seen[0].Present:
		return errors.New("the kernel answered 0 and left the orphan")
	}
	return nil
}
