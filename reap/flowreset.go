package reap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockpacket"
	"golang.org/x/sys/unix"
)

// resetStates are the conntrack states of a TCP flow whose ends hold a
// connection that a reset can end; a flow in another (a handshake, or
// TIME-WAIT and CLOSE after both ends closed) is sent nothing: a SYN there
// could start a connection instead of provoking an answer.
const resetStates = 1<<flows.Est | 1<<flows.FinWait | 1<<flows.CloseWait | 1<<flows.LastAck

// resetEnds resets both ends of each planned TCP flow in an open state
// and outside a conntrack zone (see noReset), from the table's namespace
// (sockpacket.Reset, sending on the link): the client at its original
// tuple's source, from the destination it talks to; the server at its
// reply tuple's source, from the address it answers (after NAT, this
// host's). It returns, for each target, what its ends
// got, in words; its error is sockpacket.Reset's (nothing was sent).
func (r *FlowRun) resetEnds(ctx context.Context) ([]string, error) {
	words := make([]string, len(r.plan.Targets))
	var ends []sockpacket.End
	var at []int
	for i, fl := range r.plan.Targets {
		if words[i] = noReset(fl); words[i] == "" {
			at = append(at, i)
			ends = append(ends, sockpacket.End{Addr: fl.Orig.Src, Peer: fl.Orig.Dst}, sockpacket.End{Addr: fl.Reply.Src, Peer: fl.Reply.Dst})
		}
	}
	if len(ends) == 0 {
		return words, nil
	}
	var errs []error
	err := r.ns.Do(func() (err error) {
		errs, err = sockpacket.Reset(ctx, ends, sockpacket.Options{Link: true})
		return err
	})
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		words[i] = endsWords(errs[2*k], errs[2*k+1])
	}
	return words, nil
}

// noReset says why a flow's ends are sent nothing, or "" when they are
// reset.
func noReset(fl flows.Flow) string {
	switch {
	case fl.Protocol != inet.TCP:
		return "no reset: UDP has none"
	case !flows.TCPStateMask(resetStates).Has(fl.State):
		return fmt.Sprintf("no reset: its ends hold no open connection (%s)", fl.State)
	case fl.Zone != 0:
		// A zone keeps apart networks whose addresses may overlap; the
		// segments go where this namespace's routes lead, which may be
		// another network's host with the same addresses.
		return fmt.Sprintf("no reset: a flow in conntrack zone %d, whose ends the routes may not lead to", fl.Zone)
	}
	return ""
}

// endsWords says what a flow's client and server got, from their answers.
func endsWords(client, server error) string {
	switch {
	case client == nil && server == nil:
		return "reset both"
	case client == nil:
		return "reset client only: the server " + endWords(server)
	case server == nil:
		return "reset server only: the client " + endWords(client)
	}
	return fmt.Sprintf("reset neither: the client %s; the server %s", endWords(client), endWords(server))
}

// endWords says why an end was not reset, after "the client".
func endWords(err error) string {
	var no *sockpacket.NoAnswerError
	switch {
	case errors.As(err, &no) && no.Dropped:
		return fmt.Sprintf("did not answer in %s, or its answer was among the packets this host's capture dropped (too many at once, or the host too loaded)", seconds(no.Wait))
	case errors.As(err, &no):
		return fmt.Sprintf("did not answer in %s (gone, unreachable, or its challenge ACK limit won)", seconds(no.Wait))
	case errors.Is(err, sockpacket.ErrNoConnection):
		return "had no such connection"
	case errors.Is(err, sockpacket.ErrStillAnswering):
		return "went on answering after its RSTs"
	case errors.Is(err, sockpacket.ErrUnconfirmed):
		return "was sent its RST, and did not confirm it"
	}
	return "was not reset: " + err.Error()
}

// seconds writes d as "1 s", "1.5 s".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%g s", d.Seconds())
}

// newEntryWait is how long the table is watched, after the delete, for a
// new entry of a reset flow: an end that was not reset sends again within
// it (a retransmission, a keepalive answered), and one that was sends
// nothing.
var newEntryWait = 500 * time.Millisecond

// watchReset waits newEntryWait, then looks for an entry with the original
// tuple of each deleted, reset flow, in either direction (an entry the
// server's packet makes has the old reply tuple as its original), and
// fails the flow whose tuple has one.
func (r *FlowRun) watchReset(ctx context.Context, results []flows.Result) {
	var asked []flows.Flow
	var of []int
	for i, res := range results {
		if res.Action != inet.Killed || noReset(res.Flow) != "" {
			continue
		}
		back := res.Flow
		back.Orig = res.Flow.Reply
		asked, of = append(asked, res.Flow, back), append(of, i, i)
	}
	if len(asked) == 0 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(newEntryWait):
	}
	_, errs := r.conn.Get(ctx, asked)
	for k, err := range errs {
		res := &results[of[k]]
		if err == nil && res.Action == inet.Killed {
			res.Action, res.Err = inet.Failed, fmt.Errorf("deleted, but a new entry for its tuple appeared within %s: an end still sends", seconds(newEntryWait))
		} else if err != nil && !errors.Is(err, unix.ENOENT) && res.Action == inet.Killed {
			res.Action, res.Err = inet.Failed, fmt.Errorf("deleted, but the table could not be read again for a new entry: %w", err)
		}
	}
}

// ExplainFlow says what an error of a conntrack result means to a person
// and what to do (flows.Explain, and the resets'), or returns false for an
// error it has no words for.
func ExplainFlow(err error) (string, bool) {
	if errors.Is(err, sockpacket.ErrNoPrivilege) {
		return "resetting the ends of a flow needs CAP_NET_RAW in the network namespace of the table (try sudo); nothing was deleted", true
	}
	return flows.Explain(err)
}
