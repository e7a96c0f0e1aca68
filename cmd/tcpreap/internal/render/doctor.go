package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/doctor"
)

// reportWidth is the terminal the doctor's report fits, as the tables do.
const reportWidth = 100

// Doctor prints the doctor's report: one JSON object, or one paragraph a
// finding within a 100-column terminal (as the help), its lines after the
// first under the check's name, the command that relieves it whole on a
// line of its own. netns is the namespace the findings are of, as given
// (--netns; "" for tcpreap's own): a tcpreap run a remedy suggests works
// there too.
func Doctor(w io.Writer, findings []doctor.Finding, asJSON bool, netns string) error {
	if asJSON {
		// check is a stable key; what one of several findings of a check
		// is about is in destination, or pid and command.
		type finding struct {
			Check       string `json:"check"`
			Destination string `json:"destination,omitempty"`
			PID         int    `json:"pid,omitempty"`
			Command     string `json:"command,omitempty"`
			Warn        bool   `json:"warn"`
			Says        string `json:"says"`             // the sentence, with its remedy
			Remedy      string `json:"remedy,omitempty"` // the remedy's command line alone
		}
		out := struct {
			Warn     bool      `json:"warn"`
			Findings []finding `json:"findings"`
		}{Warn: doctor.Warns(findings), Findings: []finding{}}
		for _, f := range findings {
			x := finding{Check: f.Check, PID: f.Of.PID, Command: f.Of.Command, Warn: f.Warn, Says: f.Says}
			if f.Of.Destination.IsValid() {
				x.Destination = f.Of.Destination.String()
			}
			if f.Remedy != nil {
				x.Remedy = remedyLine(f.Remedy, netns)
				x.Says += "; " + f.Remedy.Lead + ": " + x.Remedy
			}
			out.Findings = append(out.Findings, x)
		}
		return json.NewEncoder(w).Encode(out)
	}
	var b strings.Builder
	for _, f := range findings {
		mark := "ok  "
		if f.Warn {
			mark = "WARN"
		}
		says := Printable(f.Says)
		if f.Remedy != nil {
			says += "; " + Printable(f.Remedy.Lead) + ":"
		}
		check := f.Check
		if of := f.Of.String(); of != "" {
			check += " " + of
		}
		lines := clidoc.Wrap(Printable(check)+": "+says, reportWidth-len(mark)-1)
		if f.Remedy != nil {
			lines = append(lines, Printable(remedyLine(f.Remedy, netns)))
		}
		fmt.Fprintf(&b, "%s %s\n", mark, strings.Join(lines, "\n"+strings.Repeat(" ", len(mark)+1)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// remedyLine is the command line of a remedy: its command, or the tcpreap
// run that selects its sockets in namespace netns.
func remedyLine(r *doctor.Remedy, netns string) string {
	if len(r.Command) > 0 {
		return strings.Join(r.Command, " ")
	}
	words := []string{"tcpreap"}
	if netns != "" {
		words = append(words, "--netns", shellWord(netns))
	}
	if r.PID != 0 {
		words = append(words, "--pid", strconv.Itoa(r.PID))
	}
	if r.Stalled {
		words = append(words, "--stalled")
	}
	if len(r.States) > 0 {
		states := make([]string, len(r.States))
		for i, s := range r.States {
			states[i] = s.String()
		}
		words = append(words, "--state", strings.Join(states, ","))
	}
	if r.Destination.IsValid() {
		words = append(words, shellWord(r.Destination.String()))
	}
	return strings.Join(words, " ")
}

// shellWord is w as a shell reads it back: quoted when it holds anything
// but letters, digits and -_./:@%+=,.
func shellWord(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
