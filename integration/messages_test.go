// What the command line says to a person who typed it wrong, a link-local PEER with its
// interface, and the namespaces and interfaces the shells complete.

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationMessages: each mistake is refused before anything is destroyed, exit 2,
// with one sentence in tcpreap's words that names what to read or type; the connection
// with the peer that most of them also name is still there and carries data.
func TestIntegrationMessages(t *testing.T) {
	e := setup(t)
	in := e.peerSet(e.listenV4(), 1).established[0]
	before := e.sockets()
	p := testnet.PeerV4.String()
	for _, c := range []struct {
		args []string
		want string // all of stderr but "tcpreap: " and the newline
	}{
		{[]string{"list", "-tanp"}, "-tanp reads as ss's letters: list takes no -a (give --state all) or -n (addresses are always numbers here); see tcpreap list --help"},
		{[]string{"-tanp", p}, "-tanp reads as ss's letters: tcpreap takes no -a (give --state all) or -p (tcpreap list -p shows processes); see tcpreap --help"},
		{[]string{"summary", "--all-netns"}, "summary takes no --all-netns (summary takes --netns: one namespace); see tcpreap summary --help"},
		{[]string{"summary", "-all-netns"}, "summary takes no --all-netns (summary takes --netns: one namespace); see tcpreap summary --help"},
		{[]string{"apply", "--state", "listen", "x.plan"}, "apply takes no --state (apply destroys what the plan file holds: give the selection to tcpreap plan); see tcpreap apply --help"},
		{[]string{"--bogus", p}, "tcpreap has no option --bogus; see tcpreap --help"},
		{[]string{"-y", "--json=yes", p}, "--json is a switch: give it alone, without =yes; see tcpreap --help"},
		{[]string{"-y", p, "--state"}, "--state needs a value; see tcpreap --help"},
		{[]string{"help", "--bogus"}, "help has no option --bogus; see tcpreap --help"},
		{[]string{"help", "nosuch"}, `tcpreap has no command "nosuch"; see tcpreap --help`},
		{[]string{"list", "help", "--bogus"}, "list help has no option --bogus; see tcpreap list --help"},
		{[]string{"-y", "--workers", "0", p}, "--workers 0: give 1 to 64, the number of netlink sockets that send the destroys at once (without --workers: one per CPU, at most 4)"},
		{[]string{"-y", "--workers", "0"}, "--workers 0: give 1 to 64, the number of netlink sockets that send the destroys at once (without --workers: one per CPU, at most 4)"},
		{[]string{"-y", ":" + strconv.Itoa(int(in.LocalAddr().Port()))}, `":` + strconv.Itoa(int(in.LocalAddr().Port())) + `" has no address before the port; for a port on either end, give --port ` + strconv.Itoa(int(in.LocalAddr().Port()))},
		{[]string{"-y", "--uid", "nosuchuser", p}, "--uid nosuchuser: no user is named nosuchuser on this host (getent passwd lists them)"},
		{[]string{"apply", "-y", "nosuch.plan"}, "plan file nosuch.plan: there is no such file (tcpreap plan writes one); nothing was destroyed"},
		{[]string{"apply", "-y", "/dev/null"}, "plan file /dev/null: it is not a file that tcpreap plan wrote but a character device; nothing was destroyed"},
		{[]string{"-y", "fe80::2%veth0", p}, "peer fe80::2%veth0 is on interface veth0, which then holds for the whole selection, and peer " + p + " names none; give it a run of its own"},
		{[]string{"-y", "fe80::2%veth0", "--interface", "lo"}, "peer fe80::2%veth0 is on interface veth0, and --interface is lo; give one of them"},
		{[]string{"-y", "fe80::2%nosuchif0"}, `peer fe80::2%nosuchif0: no interface named "nosuchif0" in this network namespace (see ip link)`},
	} {
		t.Run(strings.Join(append([]string{"tcpreap"}, c.args...), " "), func(t *testing.T) {
			e := e.sub(t)
			res := e.tcpreap(c.args...)
			e.expectNothingDestroyed(res, 2, before)
			if want := "tcpreap: " + c.want + "\n"; res.Stderr != want || res.Stdout != "" {
				t.Errorf("stdout %q, stderr\n%q, want\n%q", res.Stdout, res.Stderr, want)
			}
		})
	}

	// An address that ends like a port, matching nothing, says how a port is written; a
	// real run destroys nothing, as the address is not the peer's.
	word := testnet.PeerV6.String() + ":5432"
	for _, args := range [][]string{{"list", word}, {"-y", word}} {
		res := e.tcpreap(args...)
		e.expectNothingDestroyed(res, 0, before)
		if want := "tcpreap: note: " + word + " was read as an address; for a port write [" + testnet.PeerV6.String() + "]:5432\n"; res.Stderr != want {
			t.Errorf("%q: stderr %q, want %q", args, res.Stderr, want)
		}
	}
	if err := testnet.Echo(in); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}

// TestIntegrationZonedPeer: a link-local PEER written with its interface, as tcpreap's
// table, ss, Go and SSH_CONNECTION write it, is the peer on that interface: with the same
// addresses on two links, it takes the connection over its link alone, as --interface does.
func TestIntegrationZonedPeer(t *testing.T) {
	e := setup(t)
	over0, over1 := e.twoLinks()
	port := strconv.Itoa(int(over0.remote.Port()))

	for _, word := range []string{"fe80::2%veth1", "[fe80::2%veth1]:" + port, "[fe80::2]%veth1:" + port} {
		r := e.json(0, "list", word)
		expectRecords(t, r, "would_kill", over1)
		if len(r.Sockets) != 1 {
			t.Errorf("list %s: %d sockets, want the one over veth1", word, len(r.Sockets))
		}
	}
	r := e.json(0, "-y", "[fe80::2]%veth0:"+port)
	expectRecords(t, r, "killed", over0)
	ss := e.sockets()
	expectGone(t, ss, over0)
	expectPresent(t, ss, "established", over1)
}

// TestIntegrationCompletionLists: each shell completes --netns with the names of ip netns
// and pid:, and --interface with the interfaces of the namespace --netns names (by name,
// pid:PID or /proc/PID/ns/net), or of the shell's own. The shells run in host A, which has
// lo and veth0; host B has two more.
func TestIntegrationCompletionLists(t *testing.T) {
	e := setup(t)
	a, b := e.Local.Name, e.Peer.Name
	if out, err := exec.Command("ip", "-n", b, "link", "add", "clx0", "type", "veth", "peer", "name", "clx1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	// A process of the test's own in B, for pid:PID.
	sleeper := e.Peer.Command(t.Context(), "sleep", "60")
	e.check(sleeper.Start())
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	pid := strconv.Itoa(sleeper.Process.Pid)

	dir := t.TempDir()
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Fatalf("%s is not installed: %v", shell, err)
		}
		out, err := exec.Command(bin, "completion", shell).Output()
		e.check(err)
		scripts[shell] = filepath.Join(dir, shell, "_tcpreap")
		e.check(os.MkdirAll(filepath.Dir(scripts[shell]), 0o755))
		e.check(os.WriteFile(scripts[shell], out, 0o644))
		check := map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}}[shell]
		if out, err := exec.Command(shell, append(check, scripts[shell])...).CombinedOutput(); err != nil {
			t.Errorf("%s finds the script wrong: %v: %s", shell, err, out)
		}
	}

	aOwn, bOwn := []string{"lo", "veth0"}, []string{"clx0", "clx1", "lo", "veth0"}
	for _, c := range []struct {
		line    string
		want    []string // all of the words offered, or, with some, among them
		some    bool
		without string
	}{
		{line: "tcpreap list --netns ", want: []string{a, b, "pid:"}, some: true},
		{line: "tcpreap conntrack list --netns ", want: []string{a, b, "pid:"}, some: true},
		{line: "tcpreap --netns p", want: []string{"pid:"}},
		{line: "tcpreap --interface ", want: aOwn},
		{line: "tcpreap list --netns " + b + " --interface ", want: bOwn},
		{line: "tcpreap list --netns=" + b + " --interface cl", want: []string{"clx0", "clx1"}},
		{line: "tcpreap --netns pid:" + pid + " --interface ", want: bOwn},
		{line: "tcpreap summary --netns /proc/" + pid + "/ns/net --interface ", want: bOwn},
		{line: "tcpreap list --netns " + a + " --interface ", want: aOwn},
		{line: "tcpreap --state ", want: []string{"close_wait"}, some: true, without: "lo"},
	} {
		for _, shell := range []string{"bash", "zsh", "fish"} {
			got := e.completes(shell, scripts[shell], dir, c.line)
			slices.Sort(got)
			ok := slices.Equal(got, c.want)
			if c.some {
				ok = !slices.Contains(got, c.without)
				for _, w := range c.want {
					ok = ok && slices.Contains(got, w)
				}
			}
			if !ok {
				t.Errorf("%s completes %q to %q, want %q", shell, c.line, got, c.want)
			}
		}
	}
}

// completes types line and a Tab into shell, run in host A with script as its completion
// of tcpreap, and returns the words offered.
func (e *env) completes(shell, script, dir, line string) []string {
	e.t.Helper()
	home := "HOME=" + filepath.Join(dir, "home")
	switch shell {
	case "bash":
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		res := e.run(e.Local, append([]string{"env", home, "bash", "-c", `source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_tcpreap tcpreap "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`, "bash", script}, words...)...)
		return strings.Fields(res.Stdout)
	case "zsh":
		words := filepath.Join(e.t.TempDir(), "words")
		e.run(e.Local, "env", home, "zsh", "-f", "-c", zshComplete, "zsh", filepath.Dir(script), filepath.Join(e.t.TempDir(), "zcompdump"), words, line)
		out, err := os.ReadFile(words)
		if err != nil && !os.IsNotExist(err) {
			e.t.Fatal(err)
		}
		return strings.Fields(string(out))
	}
	res := e.run(e.Local, "env", home, "fish", "-c", `source $argv[1]; complete --do-complete=$argv[2]`, script, line)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if word, _, _ := strings.Cut(l, "\t"); word != "" {
			got = append(got, word)
		}
	}
	return got
}
