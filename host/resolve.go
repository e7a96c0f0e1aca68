package host

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
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

// ResolveAll resolves host names at once, all within one ResolveTimeout,
// and returns the addresses of each; its error names the first name that
// could not be resolved.
func ResolveAll(ctx context.Context, names []string) (map[string][]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs := make([][]netip.Addr, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { addrs[i], errs[i] = Resolve(ctx, name) })
	}
	wg.Wait()
	out := map[string][]netip.Addr{}
	for i, name := range names {
		if errs[i] != nil {
			return out, fmt.Errorf("cannot resolve peer host name %q: %w; give its IP address", name, errs[i])
		}
		out[name] = addrs[i]
	}
	return out, nil
}
