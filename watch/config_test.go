package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// fakeSelector takes words that start with --state= or --idle= and PEERs;
// --nothing= selects everything, --bad= is refused as the command line
// would refuse it.
func fakeSelector(_ context.Context, words []string) (*reap.Selection, error) {
	s := &reap.Selection{}
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "--bad="):
			return nil, errors.New("--bad: not a word")
		case strings.HasPrefix(w, "--state="), strings.HasPrefix(w, "--idle="), w == "--", !strings.HasPrefix(w, "--"):
			s.Filter.States |= 1 << sockdiag.CloseWait
		case strings.HasPrefix(w, "--nothing="), strings.HasPrefix(w, "--rate="), strings.HasPrefix(w, "--spread="), strings.HasPrefix(w, "--order="):
		default:
			return nil, errors.New(w + " is not a selector")
		}
	}
	return s, nil
}

func TestParse(t *testing.T) {
	cfg, errs := Parse(context.Background(), []byte(`
policies:
  - name: java-leak
    action: reap
    max: 200
    rate: 50/s
    order: idle
    select:
      state: close_wait
      idle: 2m
      peer: [192.0.2.1, 192.0.2.2]
  - name: watch-only
    action: report
    select: {state: [close_wait, time_wait]}
`), fakeSelector)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(cfg.Policies) != 2 {
		t.Fatalf("%d policies, want 2", len(cfg.Policies))
	}
	p := cfg.Policies[0]
	want := []string{"--idle=2m", "--state=close_wait", "--rate=50/s", "--order=idle", "--", "192.0.2.1", "192.0.2.2"}
	if p.Name != "java-leak" || p.Action != Reap || p.Max != 200 || !slices.Equal(p.Words, want) || p.Selection == nil {
		t.Errorf("policy %+v, want words %q", p, want)
	}
	if w := cfg.Policies[1].Words; !slices.Equal(w, []string{"--state=close_wait", "--state=time_wait"}) {
		t.Errorf("a list of values: %q", w)
	}
}

// TestParseErrors: every error of a config is a sentence of its own, and all
// of them are said at once.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, config string
		want         []string
	}{
		{"unknown key at the top", "policy: []\n", []string{`line 1: "policy" is not a key at the top; the keys are policies`, "the config has no policies"}},
		{"unknown key in a policy, and the rest checked", "policies:\n  - name: a\n    action: reap\n    colour: blue\n    select: {state: close_wait}\n",
			[]string{`line 4: "colour" is not a key in a policy`, `policy "a": a reap needs a ceiling`}},
		{"no policies key", "{}\n", []string{"the config has no policies"}},
		{"empty file", "", []string{"the config has no policies"}},
		{"not YAML", "policies: [\n", []string{"the config is not YAML"}},
		{"duplicate names", "policies:\n  - {name: a, action: report, select: {state: close_wait}}\n  - {name: a, action: report, select: {state: close_wait}}\n",
			[]string{`policy "a" is named twice (lines 2 and 3)`}},
		{"no name", "policies:\n  - {action: report, select: {state: close_wait}}\n", []string{"policy 1 (line 2): it has no name"}},
		{"bad name", "policies:\n  - {name: 'a b', action: report, select: {state: close_wait}}\n", []string{`the name "a b" is not one`}},
		{"no action", "policies:\n  - {name: a, select: {state: close_wait}}\n", []string{`policy "a": it has no action`}},
		{"bad action", "policies:\n  - {name: a, action: kill, select: {state: close_wait}}\n", []string{`action "kill" is not one`}},
		{"bad max", "policies:\n  - {name: a, action: reap, max: -1, select: {state: close_wait}}\n", []string{`max "-1" is not a number`}},
		{"max 0", "policies:\n  - {name: a, action: reap, max: 0, select: {state: close_wait}}\n", []string{`max 0 lets the reap destroy nothing`}},
		{"max of a report", "policies:\n  - {name: a, action: report, max: 3, rate: 5/s, select: {state: close_wait}}\n",
			[]string{"max is for a reap", "rate is for a reap"}},
		{"empty value", "policies:\n  - {name: a, action: report, select: {state: ''}}\n", []string{"select: state (line 2) is empty"}},
		{"null value", "policies:\n  - {name: a, action: report, select: {state: }}\n", []string{"select: state (line 2) is empty"}},
		{"empty pace", "policies:\n  - {name: a, action: reap, max: 1, spread: '', select: {state: close_wait}}\n", []string{"spread is empty"}},
		{"pace under select", "policies:\n  - {name: a, action: reap, max: 1, select: {state: close_wait, rate: 5/s}}\n", []string{"select: rate (line 2) is the pace of a reap"}},
		{"a map as a value", "policies:\n  - {name: a, action: report, select: {state: {x: 1}}}\n", []string{"select: state (line 2): give a value or a list of values, not a map"}},
		{"no select", "policies:\n  - {name: a, action: report}\n", []string{"it selects nothing"}},
		{"selects everything", "policies:\n  - {name: a, action: report, select: {nothing: x}}\n", []string{"it selects every socket"}},
		{"a word the command line refuses", "policies:\n  - {name: a, action: report, select: {bad: x}}\n", []string{`policy "a": select: --bad: not a word`}},
		{"a dashed key", "policies:\n  - {name: a, action: report, select: {--state: x}}\n", []string{`select: "--state" (line 2) is not a selector`}},
		{"a list as a name", "policies:\n  - {name: [a], action: report, select: {state: close_wait}}\n", []string{"line 2: a list is given where one value is wanted", "the name \"\" is not one"}},
		{"a map as the policies", "policies: {a: 1}\n", []string{"line 1: a map is given where a list is wanted"}},
		{"a second document", "policies: []\n---\npolicies: [{name: a, action: reap, select: {nothing: x}}]\n", []string{"line 2: the config goes on in a second YAML document"}},
		{"a second document, not YAML", "policies: []\n---\n[\n", []string{"a second YAML document, which is not YAML"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, errs := Parse(context.Background(), []byte(c.config), fakeSelector)
			if cfg != nil {
				t.Errorf("a config with errors was taken: %+v", cfg)
			}
			for _, want := range c.want {
				if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
					t.Errorf("no error says %q: %q", want, errs)
				}
			}
			if len(errs) != len(c.want) {
				t.Errorf("%d errors, want %d: %q", len(errs), len(c.want), errs)
			}
		})
	}
}

// TestParseMetricsAlone: policies: [] is a config of no policies, for the
// metrics alone.
func TestParseMetricsAlone(t *testing.T) {
	// A --- before the document, or an empty one after it, is one document.
	for _, config := range []string{"policies: []\n", "---\npolicies: []\n", "policies: []\n---\n", "policies: []\n---\n# nothing\n...\n"} {
		cfg, errs := Parse(context.Background(), []byte(config), fakeSelector)
		if len(errs) > 0 || cfg == nil || len(cfg.Policies) != 0 {
			t.Errorf("%q: %+v, %q", config, cfg, errs)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "watch.yaml")
	if err := os.WriteFile(path, []byte("policies:\n  - {name: a, action: kill, select: {state: close_wait}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), path, fakeSelector)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Path != path || len(ce.Errs) != 1 {
		t.Errorf("Load: %v, want a ConfigError of one error", err)
	}
	if _, err := Load(context.Background(), filepath.Join(dir, "none.yaml"), fakeSelector); err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "cannot read the config") {
		t.Errorf("a missing file: %v", err)
	}
	// A FIFO nobody writes to, a directory, a device: no config, said at
	// once (a reload reads the config again, which only a file can give).
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir, "/dev/zero"} {
		done := make(chan error, 1)
		go func() { _, err := Load(context.Background(), p, fakeSelector); done <- err }()
		select {
		case err := <-done:
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not a file") {
				t.Errorf("%s: %v, want a ConfigError that it is not a file", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Load still waits after 5s", p)
		}
	}
	big := make([]byte, maxConfigSize+1)
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), path, fakeSelector); !errors.As(err, &ce) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a config too large: %v", err)
	}
}

// TestPaceWithinInterval: a reap whose pace may take longer than an
// interval (its spread, or its max at its rate) would hold every census,
// reload and policy behind it, and /healthz would fail: refused.
func TestPaceWithinInterval(t *testing.T) {
	cfg, errs := Parse(context.Background(), []byte(`
policies:
  - {name: spread, action: reap, max: 10, spread: 10m, select: {state: close_wait}}
  - {name: rate, action: reap, max: 200, rate: 5/s, select: {state: close_wait}}
  - {name: slow, action: reap, max: 2, rate: 1/m, select: {state: close_wait}}
  - {name: fits, action: reap, max: 100, rate: 10/s, select: {state: close_wait}}
  - {name: unpaced, action: reap, max: 1000, select: {state: close_wait}}
`), fakeSelector)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := cfg.tooSlow(15 * time.Second)
	want := []string{
		`policy "spread": spread 10m0s is longer than the interval (15s)`,
		`policy "rate": at 5/s its max 200 takes 40s, longer than the interval (15s)`,
		`policy "slow": at 1/m its max 2 takes 2m0s, longer than the interval (15s)`,
	}
	if len(got) != len(want) {
		t.Fatalf("tooSlow = %q, want %d errors", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("tooSlow[%d] = %q, want it to start %q", i, got[i], want[i])
		}
	}
	if got := cfg.tooSlow(time.Hour); len(got) != 0 {
		t.Errorf("an interval of an hour: %q", got)
	}
}

// TestParseAliases: YAML's anchors and aliases share a selection, a value
// or a list between policies, as the file would read with them written out.
func TestParseAliases(t *testing.T) {
	cfg, errs := Parse(context.Background(), []byte(`
policies:
  - {name: a, action: report, select: &common {state: close_wait, idle: &i 10m, peer: &peers [192.0.2.1, &p 192.0.2.2]}}
  - {name: b, action: report, select: *common}
  - {name: c, action: report, select: {idle: *i, peer: [*p]}}
  - {name: d, action: report, select: {state: close_wait, peer: *peers}}
`), fakeSelector)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for i, want := range [][]string{
		{"--idle=10m", "--state=close_wait", "--", "192.0.2.1", "192.0.2.2"},
		{"--idle=10m", "--state=close_wait", "--", "192.0.2.1", "192.0.2.2"},
		{"--idle=10m", "--", "192.0.2.2"},
		{"--state=close_wait", "--", "192.0.2.1", "192.0.2.2"},
	} {
		if got := cfg.Policies[i].Words; !slices.Equal(got, want) {
			t.Errorf("policy %s: %q, want %q", cfg.Policies[i].Name, got, want)
		}
	}
}
