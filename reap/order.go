package reap

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// An Order is which targets of a paced run go first. The kernel does not
// say how old a connection is; how long it has been idle is the nearest it
// tells.
type Order uint8

// The orders.
const (
	// OrderPlan: as the plan lists them (the kernel's dump order).
	OrderPlan Order = iota
	// OrderIdle: the idlest first, by how long the connection has neither
	// sent nor received data (struct tcp_info); the sockets that have no
	// tcp_info (UDP, TIME_WAIT) after them, in the plan's order.
	OrderIdle
	// OrderRandom: shuffled, so that the clients of one peer, which a
	// plan lists together, reconnect over the whole run.
	OrderRandom
)

// OrderNames are the orders' names, as ParseOrder reads them.
var OrderNames = []string{"plan", "idle", "random"}

func (o Order) String() string { return OrderNames[o] }

// ParseOrder reads an order by its name, in any case.
func ParseOrder(word string) (Order, error) {
	w := strings.ToLower(strings.TrimSpace(word))
	if i := slices.Index(OrderNames, w); i >= 0 {
		return Order(i), nil
	}
	last := len(OrderNames) - 1
	return 0, fmt.Errorf("%q is no order; give %s or %s", word, strings.Join(OrderNames[:last], ", "), OrderNames[last])
}

// arrange puts the targets of plan in order o. OrderIdle takes infos (by
// cookie); a target without one reads what the kernel says of it now, in
// one dump of conn, when infos has none of the plan's targets (a plan file's).
func (o Order) arrange(ctx context.Context, plan *kill.Plan, conn *sockdiag.Conn, infos map[sockdiag.Cookie]sockdiag.TCPInfo) error {
	switch o {
	case OrderRandom:
		rand.Shuffle(len(plan.Targets), func(i, j int) { plan.Targets[i], plan.Targets[j] = plan.Targets[j], plan.Targets[i] })
	case OrderIdle:
		if !slices.ContainsFunc(plan.Targets, func(s sockdiag.Socket) bool { _, ok := infos[s.ID.Cookie]; return ok }) {
			infos = map[sockdiag.Cookie]sockdiag.TCPInfo{}
			f := &sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP}, WithInfo: true}
			for _, err := range conn.Query(ctx, f, sockdiag.WithTCPInfo(func(s *sockdiag.Socket, info sockdiag.TCPInfo) { infos[s.ID.Cookie] = info })) {
				if err != nil {
					return queryError(err)
				}
			}
		}
		slices.SortStableFunc(plan.Targets, func(a, b sockdiag.Socket) int {
			ia, oka := infos[a.ID.Cookie]
			ib, okb := infos[b.ID.Cookie]
			switch {
			case oka && okb:
				return cmp.Compare(ib.Idle(), ia.Idle())
			case oka:
				return -1
			case okb:
				return 1
			}
			return 0
		})
	}
	return nil
}
