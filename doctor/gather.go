package doctor

import (
	"context"
	"fmt"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/sockbpf"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockfd"
)

// A kernel is a sockdiag.Conn, as the doctor asks it.
type kernel interface {
	querier
	Probe(ctx context.Context) *sockdiag.Support
	DestroysOrphans(ctx context.Context) bool
}

var _ kernel = (*sockdiag.Conn)(nil)

// sysctls are the settings the doctor reads, under /proc/sys/net.
var sysctls = []string{"ipv4.tcp_fin_timeout", "ipv4.tcp_tw_reuse", "ipv4.tcp_tw_recycle", "ipv4.tcp_max_tw_buckets",
	"ipv4.tcp_retries2", "ipv4.tcp_keepalive_time", "ipv4.tcp_keepalive_intvl", "ipv4.tcp_keepalive_probes", "mptcp.enabled"}

// Gather collects the facts of a network namespace, c being the census of
// its sockets: the sysctls and the local port range, whether a dump shows
// sockets the doctor opens on loopback (after the census, which they are not
// to be in), what the kernel can destroy (Probe) and whether its destroy of
// an orphan is truthful. in runs a function on a thread of that namespace
// with a connection to its kernel (reap.Run.Do): /proc/sys/net and the
// loopback interface are the namespace's own. It destroys none but the
// orphan of its own that DestroysOrphans may make, and takes a few seconds
// at most. Its error is the local port range that could not be read, or
// in's.
func Gather(ctx context.Context, c *census.Census, in func(func(*sockdiag.Conn) error) error) (Facts, error) {
	var f Facts
	err := in(func(k *sockdiag.Conn) error { return gather(ctx, k, &f) })
	if err != nil {
		return Facts{}, err
	}
	f.Census = c
	return f, nil
}

// gather is Gather on a thread of the namespace k speaks to.
func gather(ctx context.Context, k kernel, f *Facts) (err error) {
	f.Sysctls = host.Sysctls(sysctls...)
	if f.PortRange, err = host.LocalPortRange(); err != nil {
		return fmt.Errorf("cannot read net.ipv4.ip_local_port_range: %w", err)
	}
	// Sockets are made by the thread that asks: the namespace's loopback.
	f.Own = checkOwn(ctx, k)
	f.Support = k.Probe(ctx)
	f.Orphans = k.DestroysOrphans(ctx)
	// The packet engine needs raw and packet sockets alone, which every
	// Linux kernel tcpreap runs on has: it is always offered.
	f.Engines = map[string]string{"fd": sockfd.Offered(), "bpf": "", "packet": ""}
	if err := sockbpf.Probe(); err != nil {
		f.Engines["bpf"] = err.Error()
	}
	return nil
}
