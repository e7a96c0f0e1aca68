package reap

import (
	"iter"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Report is what a Run did, or would do, to every socket it matched,
// grouped per network namespace in the order they were worked in.
type Report struct {
	// DryRun: nothing was destroyed; the results say what would be.
	DryRun bool
	// Owners and Infos are the Run's: who holds each socket, what struct
	// tcp_info says of it; nil when the selection did not ask for them
	// (Selection.WantOwners, Selection.WantInfo), even when it read them
	// to select.
	Owners map[uint32][]host.Owner
	Infos  map[sockdiag.Cookie]sockdiag.TCPInfo
	// Pace is the pace a paced run destroyed at, and Took how long it
	// took; zero for a run at the kernel's pace.
	Pace kill.Pace
	Took time.Duration

	groups   []Group
	labelled bool
}

// A Group is the results of one network namespace.
type Group struct {
	// NetNS names the namespace as a person gave it (a name, a path,
	// pid:PID (comm)); "" for the one tcpreap runs in.
	NetNS string
	// Here: the namespace is the one tcpreap runs in, whatever NetNS calls
	// it (over every namespace, "pid:1 (systemd)").
	Here    bool
	Results []kill.Result
	// InterfaceName names an interface of the namespace by its index ("" when
	// it has none there: the interface went away). For a namespace other
	// than tcpreap's own it reads the names there when first called, so
	// call it before the Run is closed: after, it has only numbers.
	InterfaceName func(index uint32) string
}

// Acted reports whether anything was destroyed, or tried, in the group's
// namespace: it has a result other than a guard's skip (the kernel's skip
// of a TIME_WAIT socket followed a destroy). A namespace a run only looked
// at, or whose sockets the guards all kept, was not acted in.
func (g *Group) Acted() bool {
	for _, r := range g.Results {
		if r.Action != inet.Skipped || r.Reason == kill.ReasonTimeWait {
			return true
		}
	}
	return false
}

// NewReport is a Report of groups of results, one per namespace, labelled
// when one names its namespace. A
// group without InterfaceName names the interfaces of the namespace
// tcpreap runs in. Owners and Infos are the caller's to set.
func NewReport(dryRun bool, groups ...Group) *Report {
	r := &Report{DryRun: dryRun, groups: groups}
	for i, g := range groups {
		r.labelled = r.labelled || g.NetNS != ""
		if g.InterfaceName == nil {
			groups[i].InterfaceName = host.InterfaceName
		}
	}
	return r
}

// Groups yields the results of each namespace.
func (r *Report) Groups() iter.Seq[*Group] {
	return func(yield func(*Group) bool) {
		for i := range r.groups {
			if !yield(&r.groups[i]) {
				return
			}
		}
	}
}

// Labelled reports whether the results are of a namespace other than (or
// besides) the one tcpreap runs in, which Group.NetNS names.
func (r *Report) Labelled() bool { return r.labelled }

// Summary counts the results of every namespace by action.
func (r *Report) Summary() inet.Summary {
	var sum inet.Summary
	for _, g := range r.groups {
		s := inet.Summarize(g.Results)
		sum.Matched, sum.WouldKill, sum.Killed = sum.Matched+s.Matched, sum.WouldKill+s.WouldKill, sum.Killed+s.Killed
		sum.Gone, sum.Failed, sum.Skipped = sum.Gone+s.Gone, sum.Failed+s.Failed, sum.Skipped+s.Skipped
		sum.Pending += s.Pending
	}
	return sum
}

// Results yields every result, namespace after namespace.
func (r *Report) Results() iter.Seq[*kill.Result] {
	return func(yield func(*kill.Result) bool) {
		for i := range r.groups {
			for j := range r.groups[i].Results {
				if !yield(&r.groups[i].Results[j]) {
					return
				}
			}
		}
	}
}

// Engines names the engines that destroyed (kill.Result's Engine of the
// results killed or pending), each once, in the order of EngineNames; when
// none destroyed, the engines whose answers the results are. None for a
// dry run.
func (r *Report) Engines() []string {
	of := func(acted bool) []string {
		var names []string
		for _, name := range EngineNames {
			for res := range r.Results() {
				if res.Engine == name && (!acted || res.Action == inet.Killed || res.Action == inet.Pending) {
					names = append(names, name)
					break
				}
			}
		}
		return names
	}
	if names := of(true); len(names) > 0 {
		return names
	}
	return of(false)
}
