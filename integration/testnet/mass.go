package testnet

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// TimeWaitMass makes count connections from B to A's listener l and leaves A's
// ends in TIME_WAIT: A closes each as it accepts it; B closes its end once
// A's FIN has arrived (its read ends). A few connections are open at a time,
// so count is bounded by ports, not by files. It returns once A shows them
// in TIME_WAIT on l's address.
func (n *Net) TimeWaitMass(l *net.TCPListener, count int) error {
	to := l.Addr().(*net.TCPAddr).AddrPort()
	accepted := make(chan error, 1)
	go func() {
		for range count {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			c.Close()
		}
		accepted <- nil
	}()
	// Each from a port of its own: a new connection on a tuple that A holds
	// in TIME_WAIT would take that socket's place. Below the ephemeral ports
	// (32768 on), so that no other connection of B's takes one.
	const firstPort, lastPort, parallel = 1100, 32767, 16
	if count > lastPort-firstPort+1 {
		return fmt.Errorf("TimeWaitMass: at most %d connections", lastPort-firstPort+1)
	}
	work := make(chan uint16, count)
	for i := range count {
		work <- uint16(firstPort + i)
	}
	close(work)
	errs := make(chan error, parallel)
	for range parallel {
		go func() {
			errs <- n.Peer.Do(func() error {
				for port := range work {
					d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(PeerV4, port))}
					d.SetMultipathTCP(false)
					c, err := d.Dial("tcp", to.String())
					if err != nil {
						return err
					}
					c.SetReadDeadline(time.Now().Add(timeout))
					_, err = c.Read(make([]byte, 1)) // EOF: A has closed
					c.Close()
					if err != io.EOF {
						return fmt.Errorf("waiting for A to close first: %v", err)
					}
				}
				return nil
			})
		}()
	}
	var first error
	for range parallel {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if err := <-accepted; err != nil {
		return err
	}
	// The TIME_WAIT sockets appear within a round trip of B's closes. A dump
	// of a table that other namespaces change meanwhile (the kernel's hash
	// is shared) may miss a few, so the count is taken once it is steady.
	last, steady := -1, 0
	_, err := n.Local.AwaitFor(fmt.Sprintf("%d TIME_WAIT sockets", count), time.Minute, func(ss Sockets) bool {
		k := 0
		for _, s := range ss {
			if s.State == "time_wait" && s.Local == to {
				k++
			}
		}
		if k == last {
			steady++
		} else {
			last, steady = k, 0
		}
		return k == count || k >= count/2 && steady >= 10
	})
	return err
}
