package inet

// An Action is what became, or would become, of one target of a plan: a
// socket or a conntrack entry. The words are the same for both.
type Action uint8

// The actions, as their String names them.
const (
	WouldKill Action = iota // a dry run: it would be destroyed or deleted
	Killed                  // destroyed or deleted
	Gone                    // already gone, or replaced (another cookie or id) before the kill
	Failed                  // the kernel refused or did not answer, or the target is still there
	Skipped                 // a guard, or the kernel, kept it back; the result's reason says why
	Pending                 // asked for, not answered in time, and still there: it may still be destroyed
)

var actionNames = [...]string{
	WouldKill: "would_kill",
	Killed:    "killed",
	Gone:      "gone",
	Failed:    "failed",
	Skipped:   "skipped",
	Pending:   "pending",
}

func (a Action) String() string { return actionNames[a] }

// A Summary counts a plan's results by action.
type Summary struct {
	Matched, WouldKill, Killed, Gone, Failed, Skipped, Pending int
}

// Summarize counts results by action; every result is a matched target.
func Summarize[R interface{ Outcome() Action }](results []R) Summary {
	s := Summary{Matched: len(results)}
	for _, r := range results {
		switch r.Outcome() {
		case WouldKill:
			s.WouldKill++
		case Killed:
			s.Killed++
		case Gone:
			s.Gone++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		case Pending:
			s.Pending++
		}
	}
	return s
}
