package flows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Time limits on the kernel's answers, so that no run hangs: a dump of a
// full table (a million entries) takes seconds; a delete is one answer. A
// context's deadline, when earlier, wins.
const (
	dumpTimeout   = 2 * time.Minute
	deleteTimeout = 8 * time.Second
)

// maxFlows bounds how many entries one dump keeps: more than any
// nf_conntrack_max a host runs with.
const maxFlows = 4 << 20

// Config says where a Conn works.
type Config struct {
	// NetNS is a file descriptor of the network namespace to work in; 0 is
	// the namespace of the calling thread.
	NetNS int
}

// A Conn is a NETLINK_NETFILTER socket that speaks ctnetlink. It is not
// safe for concurrent use.
type Conn struct {
	c *netlink.Conn
}

// Dial opens a NETLINK_NETFILTER socket in the namespace cfg names (nil:
// the calling thread's). Its error wraps the errno.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := netlink.Dial(netlinkNetfilter, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, &OpError{Op: "dial", Err: err}
	}
	// Error acks then carry only the request's header, not its payload.
	_ = c.SetOption(netlink.CapAcknowledge, true)
	return &Conn{c: c}, nil
}

// newConn makes a Conn of a netlink connection, such as nltest's fake.
func newConn(c *netlink.Conn) *Conn { return &Conn{c: c} }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// An OpError is the one error type a Conn returns: the operation ("dial",
// "dump", "delete"), the flow a delete was about, and the cause, which
// unwraps to the kernel's errno where there is one (errors.Is(err,
// unix.ENOENT)).
type OpError struct {
	Op   string
	Flow *Flow
	Err  error
}

func (e *OpError) Error() string {
	if e.Flow != nil {
		return fmt.Sprintf("%s %s: %v", e.Op, e.Flow, e.Err)
	}
	return fmt.Sprintf("conntrack %s: %v", e.Op, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Explain says what an error of a Conn means to a person and what to do, or
// returns false for an error it has no words for.
func Explain(err error) (string, bool) {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "listing and deleting conntrack entries needs CAP_NET_ADMIN in this network namespace (try sudo)", true
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		return "this kernel has no conntrack netlink interface: load it (modprobe nf_conntrack_netlink), or the kernel was built without CONFIG_NF_CT_NETLINK", true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "the kernel did not answer in time", true
	}
	return "", false
}

// deadline sets the socket's deadline to limit from now, or ctx's if earlier.
func (c *Conn) deadline(ctx context.Context, limit time.Duration) {
	d := time.Now().Add(limit)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = c.c.SetDeadline(d)
}

// Dump returns the TCP and UDP entries f selects: the dump carries what the
// kernel can filter (see the package doc), and every entry is checked again
// with f.Match. It decodes the answer as it arrives and keeps only the
// entries selected, once each (the kernel sends some twice when the entry a
// dump stopped at goes away between two reads); at most maxFlows entries
// are read.
func (c *Conn) Dump(ctx context.Context, f *Filter) ([]Flow, error) {
	if err := ctx.Err(); err != nil {
		return nil, &OpError{Op: "dump", Err: err}
	}
	data, err := dumpRequest(f.dumpFamily(), f.kernel())
	if err != nil {
		return nil, &OpError{Op: "dump", Err: err}
	}
	c.deadline(ctx, dumpTimeout)
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) ([]Flow, error) {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, &OpError{Op: "dump", Err: err}
	}
	req, err := c.c.Send(netlink.Message{
		Header: netlink.Header{Type: headerType(ipctnlMsgCTGet), Flags: netlink.Request | netlink.Dump},
		Data:   data,
	})
	if err != nil {
		return fail(err)
	}
	type key struct {
		id   uint32
		orig Tuple
		zone uint16
	}
	var out []Flow
	seen := map[key]bool{}
	read := 0
	for m, err := range c.c.ReceiveIter() {
		if err == nil {
			err = netlink.Validate(req, []netlink.Message{m})
		}
		if err != nil {
			return fail(err)
		}
		if read++; read > maxFlows {
			return fail(fmt.Errorf("more than %d entries", maxFlows))
		}
		var fl Flow
		if err := fl.UnmarshalBinary(m.Data); err != nil {
			if errors.Is(err, errNotFlow) {
				continue
			}
			return fail(err)
		}
		if k := (key{fl.ID, fl.Orig, fl.Zone}); f.Match(&fl) && !seen[k] {
			seen[k] = true
			out = append(out, fl)
		}
	}
	return out, nil
}

// Get returns the entry in the table now with fl's original tuple in its
// zone, whatever its id, waiting at most deleteTimeout; an error that
// unwraps to unix.ENOENT when there is none.
func (c *Conn) Get(ctx context.Context, fl Flow) (Flow, error) {
	if ctx.Err() != nil {
		return Flow{}, &OpError{Op: "get", Flow: &fl, Err: context.Cause(ctx)}
	}
	data, err := getRequest(fl)
	if err != nil {
		return Flow{}, &OpError{Op: "get", Flow: &fl, Err: err}
	}
	c.deadline(ctx, deleteTimeout)
	msgs, err := c.c.Execute(netlink.Message{
		Header: netlink.Header{Type: headerType(ipctnlMsgCTGet), Flags: netlink.Request | netlink.Acknowledge},
		Data:   data,
	})
	if err != nil {
		return Flow{}, &OpError{Op: "get", Flow: &fl, Err: err}
	}
	for _, m := range msgs {
		var now Flow
		if err := now.UnmarshalBinary(m.Data); err == nil {
			return now, nil
		}
	}
	return Flow{}, &OpError{Op: "get", Flow: &fl, Err: unix.ENOENT}
}

// Delete deletes the entry fl by its original tuple, zone and id, and
// waits for the kernel's answer (at most deleteTimeout). An entry that is
// gone, or was replaced by one with another id, answers an error that
// unwraps to unix.ENOENT, and nothing is deleted.
func (c *Conn) Delete(ctx context.Context, fl Flow) error {
	if ctx.Err() != nil {
		return &OpError{Op: "delete", Flow: &fl, Err: context.Cause(ctx)}
	}
	data, err := deleteRequest(fl)
	if err != nil {
		return &OpError{Op: "delete", Flow: &fl, Err: err}
	}
	c.deadline(ctx, deleteTimeout)
	_, err = c.c.Execute(netlink.Message{
		Header: netlink.Header{Type: headerType(ipctnlMsgCTDelete), Flags: netlink.Request | netlink.Acknowledge},
		Data:   data,
	})
	if err != nil {
		return &OpError{Op: "delete", Flow: &fl, Err: err}
	}
	return nil
}
