package host

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"
)

// ResolveTimeout bounds the lookup of a host name.
const ResolveTimeout = 5 * time.Second

// Resolve returns every address (A and AAAA) of a host name, sorted and
// without repeats, waiting at most ResolveTimeout.
func Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), nil
}
