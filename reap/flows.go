package reap

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/host"
)

// A FlowRun is a selection of conntrack entries planned in the table of one
// network namespace, on a ctnetlink connection made there, ready to be shown
// or deleted. It holds the connection until Close.
type FlowRun struct {
	conn  *flows.Conn
	plan  *flows.Plan
	netns string
	notes []string
}

// QueryFlows dumps the conntrack table of the namespace where names (one
// namespace: a router's table is its own, so where.All is an *InputError),
// and plans the entries f selects, those of the SSH session tcpreap runs in
// kept back unless includeSelf. The plan is in the order a person reads,
// as flows.Conn.Dump returns it: by protocol, then client, then server. The caller closes the FlowRun.
//
// Errors: an *InputError for a namespace that cannot be used as given;
// else what the kernel answered, explained (flows.Explain), naming the
// namespace it happened in and wrapping the *flows.OpError.
func QueryFlows(ctx context.Context, f *flows.Filter, where Where, includeSelf bool) (*FlowRun, error) {
	if where.All {
		return nil, &InputError{InputAll, errors.New("conntrack tables are listed one namespace at a time")}
	}
	var ns *host.Namespace
	if where.NetNS != "" {
		var err error
		if ns, err = host.OpenNetNS(where.NetNS); err != nil {
			return nil, &InputError{InputNetNS, err}
		}
		defer ns.Close() // the socket stays in the namespace it was made in
	}
	r := &FlowRun{netns: ns.String()}
	session := sessionGuard(includeSelf, flowSession, &r.notes)
	conn, err := flows.Dial(&flows.Config{NetNS: dialFd(ns)})
	if err != nil {
		return nil, inSpace(ns, flowError(enterError(ns, err)))
	}
	found, err := conn.Dump(ctx, f)
	if err != nil {
		conn.Close()
		return nil, inSpace(ns, flowError(err))
	}
	r.conn, r.plan = conn, flows.NewPlan(found, session)
	return r, nil
}

// Notes are what a person should read with the plan.
func (r *FlowRun) Notes() []string { return r.notes }

// Plan is what the FlowRun would delete, and what it keeps back.
func (r *FlowRun) Plan() *flows.Plan { return r.plan }

// NetNS names the namespace of the table as it was given; "" for the one
// tcpreap runs in.
func (r *FlowRun) NetNS() string { return r.netns }

// Execute deletes the planned entries, each by its tuple, zone and id, and
// verifies that they are gone (flows.Plan.Execute).
func (r *FlowRun) Execute(ctx context.Context) []flows.Result { return r.plan.Execute(ctx, r.conn) }

// Close closes the connection.
func (r *FlowRun) Close() { r.conn.Close() }

// flowError explains a failed dial or dump.
func flowError(err error) error {
	if why, ok := flows.Explain(err); ok {
		return fmt.Errorf("%s: %w", why, err)
	}
	var op *flows.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("cannot list conntrack entries: %w", op.Err)
	}
	return fmt.Errorf("cannot list conntrack entries: %w", err)
}
