package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/doctor"
)

// Doctor prints the doctor's findings: one paragraph each, marked ok or
// WARN, or (json) one JSON object whose fields are a contract.
func Doctor(w io.Writer, findings []doctor.Finding, json bool) error {
	if json {
		return doctorJSON(w, findings)
	}
	var b strings.Builder
	for _, f := range findings {
		mark := "ok  "
		if f.Warn {
			mark = "WARN"
		}
		// One finding a paragraph, within a 100-column terminal (as the
		// help), its lines after the first under the check's name.
		says, command := Printable(f.Says), ""
		if i := strings.Index(says, ": tcpreap "); i >= 0 {
			// The command that relieves it, on a line of its own, whole.
			says, command = says[:i+1], says[i+2:]
		}
		lines := clidoc.Wrap(Printable(f.Check)+": "+says, clidoc.Width-len(mark)-1)
		if command != "" {
			lines = append(lines, command)
		}
		fmt.Fprintf(&b, "%s %s\n", mark, strings.Join(lines, "\n"+strings.Repeat(" ", len(mark)+1)))
	}
	_, err := fmt.Fprint(w, b.String())
	return err
}

func doctorJSON(w io.Writer, findings []doctor.Finding) error {
	type finding struct {
		Check string `json:"check"`
		Warn  bool   `json:"warn"`
		Says  string `json:"says"`
	}
	out := struct {
		Warn     bool      `json:"warn"`
		Findings []finding `json:"findings"`
	}{Warn: doctor.Warns(findings), Findings: []finding{}}
	for _, f := range findings {
		out.Findings = append(out.Findings, finding(f))
	}
	return json.NewEncoder(w).Encode(out)
}
