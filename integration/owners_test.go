package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// app is one run of integration/leaker in host A: an application with a CLOSE_WAIT leak.
type app struct {
	name string
	port uint16
	user bool // run as nobody
	pid  int
}

// TestIntegrationOwners: applications of the test's own (integration/leaker, not tcpreap)
// leak CLOSE_WAIT sockets under two names, and one more runs as an unprivileged user.
// list -p names each socket's process and user, summary the holder of each application's
// CLOSE_WAIT sockets; --process, --pid and --uid destroy
// exactly the sockets of the process or user they name, and the others' survive.
func TestIntegrationOwners(t *testing.T) {
	e := setup(t)
	dir := buildLeaker(t, "leaky-app", "other-app", "nobody-app")
	apps := []*app{{name: "leaky-app", port: 7300}, {name: "other-app", port: 7301}, {name: "nobody-app", port: 7302, user: true}}
	for _, a := range apps {
		a.pid = e.startLeaker(filepath.Join(dir, a.name), a.port, a.user)
		for range 3 {
			c, err := e.Dial(netip.AddrPortFrom(testnet.LocalV4, a.port))
			e.check(err)
			e.check(c.Close())
		}
	}
	closeWaits := func(ss testnet.Sockets, port uint16) int { return countOn(ss, "close_wait", port) }
	_, err := e.Local.Await("nine CLOSE_WAIT sockets", func(ss testnet.Sockets) bool {
		return closeWaits(ss, 7300) == 3 && closeWaits(ss, 7301) == 3 && closeWaits(ss, 7302) == 3
	})
	e.check(err)

	r := e.json(0, "list", "-p", "--state", "close_wait")
	byPort := map[uint16]*app{}
	for _, a := range apps {
		byPort[a.port] = a
	}
	for _, rec := range r.Sockets {
		a := byPort[rec.LocalPort]
		if a == nil {
			t.Errorf("list -p: a socket of none of the applications: %+v", rec)
			continue
		}
		wantUID := uint32(0)
		if a.user {
			wantUID = 65534
		}
		if len(rec.Processes) != 1 || rec.Processes[0].PID != a.pid || rec.Processes[0].Command != a.name || rec.UID != wantUID || rec.RecvQ != 1 {
			t.Errorf("list -p: %s's socket %v: uid %d, recv_q %d, processes %+v; want uid %d, recv_q 1 (the FIN, unread), pid %d",
				a.name, rec.Remote(), rec.UID, rec.RecvQ, rec.Processes, wantUID, a.pid)
		}
	}
	if len(r.Sockets) != 9 {
		t.Errorf("list -p --state close_wait: %d sockets, want 9", len(r.Sockets))
	}
	text := e.tcpreap("list", "-p", "--state", "close_wait", "--local-port", "7300")
	if want := fmt.Sprintf(`leaky-app[%d]`, apps[0].pid); !strings.Contains(text.Stdout, want) {
		t.Errorf("list -p: no %s in\n%s", want, text.Stdout)
	}

	// summary names each application as the owner of its CLOSE_WAIT sockets.
	res := e.tcpreap("summary", "--json", "--state", "close_wait")
	type holder struct {
		PID           int    `json:"pid"`
		Command       string `json:"command"`
		CloseWait     int    `json:"close_wait"`
		CloseWaitPort uint16 `json:"close_wait_port"`
	}
	var sum struct {
		CloseWait []holder `json:"close_wait"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || res.Code != 0 {
		t.Fatalf("summary --json: exit %d, %v", res.Code, err)
	}
	for _, a := range apps {
		if !slices.Contains(sum.CloseWait, holder{a.pid, a.name, 3, a.port}) {
			t.Errorf("summary: %s (pid %d) is not named as holding 3 CLOSE_WAIT sockets on :%d: %+v", a.name, a.pid, a.port, sum.CloseWait)
		}
	}
	text = e.tcpreap("summary", "--state", "close_wait")
	if want := fmt.Sprintf("leaky-app pid %d holds 3 CLOSE-WAIT sockets on :7300", apps[0].pid); !strings.Contains(text.Stdout, want) {
		t.Errorf("summary: no %q in\n%s", want, text.Stdout)
	}

	// Without the right to read another user's open files: a process the selection
	// names whose sockets cannot be known is a failure with its sentence, not an empty
	// match (exit 0); one's own processes are read, with no warning when every socket
	// shown has a known owner.
	res = e.run(e.Local, slices.Concat(nobody, []string{bin, "list", "--process", "leaky-app", "--state", "close_wait"})...)
	if res.Code != 1 || !strings.Contains(res.Stderr, "(leaky-app), which the selection names, cannot be read") || res.Stdout != "" {
		t.Errorf("as nobody, --process leaky-app: exit %d, stdout %q, stderr %q; want 1 and why", res.Code, res.Stdout, res.Stderr)
	}
	res = e.run(e.Local, slices.Concat(nobody, []string{bin, "list", "--json", "--process", "nobody-app", "--state", "close_wait"})...)
	if r := e.decode(res, 0); len(r.Sockets) != 3 || strings.Contains(res.Stderr, "warning") {
		t.Errorf("as nobody, --process nobody-app: %d sockets, stderr %q; want its 3 and no warning", len(r.Sockets), res.Stderr)
	}

	r = e.json(0, "list", "--process-match", "^(leaky|other)-app$", "--state", "close_wait")
	if len(r.Sockets) != 6 {
		t.Errorf("--process-match '^(leaky|other)-app$': %d sockets, want the 6 of leaky-app and other-app", len(r.Sockets))
	}
	for _, rec := range r.Sockets {
		if rec.LocalPort == 7302 {
			t.Errorf("--process-match selected nobody-app's %v", rec.Remote())
		}
	}
	// A pattern is one value, commas and all: not two patterns "^le{1" and "2}aky-app$".
	if r := e.json(0, "list", "--process-match", "^le{1,2}aky-app$", "--state", "close_wait"); len(r.Sockets) != 3 {
		t.Errorf("--process-match '^le{1,2}aky-app$': %d sockets, want leaky-app's 3", len(r.Sockets))
	}

	// Each selector destroys its own application's sockets, and no other.
	steps := []struct {
		args []string
		gone uint16
	}{
		{[]string{"--process", "leaky-app", "--state", "close_wait"}, 7300},
		{[]string{"--pid", strconv.Itoa(apps[1].pid)}, 7301}, // its listener is kept back
		{[]string{"--uid", "nobody", "--state", "close_wait"}, 7302},
	}
	left := map[uint16]int{7300: 3, 7301: 3, 7302: 3}
	for _, step := range steps {
		r := e.json(0, append([]string{"-y"}, step.args...)...)
		if r.Summary.Killed != 3 {
			t.Errorf("%v: %+v, want 3 killed", step.args, r.Summary)
		}
		for _, rec := range r.Sockets {
			if rec.LocalPort != step.gone || rec.Action != "killed" && rec.State != "listen" {
				t.Errorf("%v: %s %s %v", step.args, rec.Action, rec.State, rec.Local())
			}
		}
		left[step.gone] = 0
		ss := e.sockets()
		for port, n := range left {
			if got := closeWaits(ss, port); got != n {
				t.Errorf("after %v: %d CLOSE_WAIT sockets on :%d, want %d", step.args, got, port, n)
			}
		}
		for _, a := range apps {
			if countOn(ss, "listen", a.port) != 1 {
				t.Errorf("after %v: %s no longer listens", step.args, a.name)
			}
		}
	}
}

// TestIntegrationOwnerSelectorsRefuse: an owner selector that cannot select what it says
// is bad input, and nothing is destroyed.
func TestIntegrationOwnerSelectorsRefuse(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	e.closeWait(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	before := e.sockets()
	for _, args := range [][]string{
		{"--process", "a-name-longer-than-15"},
		{"--process", ""},
		{"--pid", "0"},
		{"--pid", "4194305"}, // above pid_max's limit: no process has it
		{"--pid", "12x"},
		{"--uid", "no-such-user-here"},
		{"--process-match", ".*"}, // every name: no selector at all
		{"--process-match", "."},
		{"--process-match", `[\s\S]`},
		{"--process-match", "(unclosed"},
		{"--idle", "10"}, // no unit
		{"--idle", "0s"},
		{"--idle=-5m"},
		{"--idle", "99999999h"}, // beyond what tcp_info counts
		{"--stalled-for", "3s"}, // without --stalled
		{"--cgroup", "no-such-group-here"},
		// An empty value is no value: the run it was meant to narrow is refused, not
		// widened (a unit's --idle ${IDLE} with IDLE unset).
		{"--idle", ""},
		{"--netns", ""},
		{"--process", "leaky-app", "--process", ""},
		{"--max", "1", "--max", "100"}, // one value, given twice: not the last one silently
		{"--workers", "0", "--state", "close_wait"},
	} {
		res := e.tcpreap(append([]string{"-y"}, args...)...)
		e.expectNothingDestroyed(res, 2, before)
		if flag, _, _ := strings.Cut(strings.TrimPrefix(args[0], "-"), "="); !strings.Contains(res.Stderr, flag) {
			t.Errorf("%v: the error does not name the option: %s", args, res.Stderr)
		}
	}
	if res := e.tcpreap("-y", "--idle", "99999999h"); !strings.Contains(res.Stderr, "--idle 99999999h is out of range") {
		t.Errorf("--idle 99999999h: %s", res.Stderr)
	}
	// doctor looks at every socket: a word after it is a mistake, not a selection.
	res := e.tcpreap("doctor", testnet.PeerV4.String())
	if res.Code != 2 || !strings.Contains(res.Stderr, "no arguments") {
		t.Errorf("doctor with a PEER: exit %d, %s", res.Code, res.Stderr)
	}
}

// buildLeaker builds integration/leaker under each of names (a process's command name is
// its executable's), in a directory nobody may read too.
func buildLeaker(t *testing.T, names ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tcpreap-leaker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, names[0])
	if out, err := exec.Command("go", "build", "-o", first, "github.com/tcpreap/tcpreap/integration/leaker").CombinedOutput(); err != nil {
		t.Fatalf("building the leaker: %v\n%s", err, out)
	}
	for _, name := range names[1:] {
		b, err := os.ReadFile(first)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startLeaker runs the leaker at path in A, listening on 192.0.2.1:port (as nobody with
// user), and returns its pid once it listens. It ends with the test's namespaces.
func (e *env) startLeaker(path string, port uint16, user bool) int {
	e.t.Helper()
	argv := []string{path, netip.AddrPortFrom(testnet.LocalV4, port).String()}
	if user {
		argv = slices.Concat(nobody, argv)
	}
	return e.startCommand(argv)
}

// startCommand runs argv in A, a leaker in the end, and returns its pid once it says it
// listens.
func (e *env) startCommand(argv []string) int {
	e.t.Helper()
	path := argv[0]
	cmd := e.Local.Command(context.Background(), argv...)
	out, err := cmd.StdoutPipe()
	e.check(err)
	e.check(cmd.Start())
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "listening\n" {
			err = fmt.Errorf("the leaker said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		e.check(err)
	case <-time.After(10 * time.Second):
		e.t.Fatalf("%s did not listen within 10 s", path)
	}
	return cmd.Process.Pid
}

// TestIntegrationCgroup: an application started in a cgroup v2 group of the test's own
// leaks CLOSE_WAIT sockets, as does the same application outside it: --cgroup destroys
// exactly the first one's.
func TestIntegrationCgroup(t *testing.T) {
	e := setup(t)
	root := cgroup2Root(t)
	group := fmt.Sprintf("tcpreap-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := filepath.Join(root, group)
	e.check(os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		// Registered first, run last: after the leaker's cleanup killed it, the group
		// empties and can go.
		deadline := time.Now().Add(10 * time.Second)
		for err := os.Remove(dir); err != nil; err = os.Remove(dir) {
			if time.Now().After(deadline) {
				t.Errorf("the test's cgroup %s stays: %v", dir, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	bin := filepath.Join(buildLeaker(t, "leaky-app"), "leaky-app")
	e.startLeakerIn(bin, 7310, dir)
	e.startLeaker(bin, 7311, false)
	for _, port := range []uint16{7310, 7311} {
		for range 2 {
			c, err := e.Dial(netip.AddrPortFrom(testnet.LocalV4, port))
			e.check(err)
			e.check(c.Close())
		}
	}
	_, err := e.Local.Await("four CLOSE_WAIT sockets", func(ss testnet.Sockets) bool {
		return countOn(ss, "close_wait", 7310) == 2 && countOn(ss, "close_wait", 7311) == 2
	})
	e.check(err)
	for _, path := range []string{group, "/" + group, dir} {
		r := e.decode(e.tcpreapHostMounts("list", "--json", "--cgroup", path, "--state", "close_wait"), 0)
		if len(r.Sockets) != 2 || r.Sockets[0].LocalPort != 7310 || r.Sockets[1].LocalPort != 7310 {
			t.Errorf("list --cgroup %s: %d sockets %+v, want the 2 on :7310", path, len(r.Sockets), r.Sockets)
		}
	}
	r := e.decode(e.tcpreapHostMounts("--json", "-y", "--cgroup", group, "--state", "close_wait"), 0)
	if r.Summary.Killed != 2 {
		t.Errorf("--cgroup %s: %+v, want 2 killed", group, r.Summary)
	}
	ss := e.sockets()
	if countOn(ss, "close_wait", 7310) != 0 || countOn(ss, "close_wait", 7311) != 2 {
		t.Errorf("after --cgroup: %d CLOSE_WAIT on :7310 (want 0), %d on :7311 (want 2)", countOn(ss, "close_wait", 7310), countOn(ss, "close_wait", 7311))
	}
	res := e.tcpreapHostMounts("-y", "--cgroup", "no-such-group-here")
	if res.Code != 2 || !strings.Contains(res.Stderr, "--cgroup") {
		t.Errorf("--cgroup of no group: exit %d, %s", res.Code, res.Stderr)
	}
}

// cgroup2Root is where this machine mounts the cgroup2 hierarchy.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 && f[3] == "/" {
			return f[4]
		}
	}
	t.Fatal("no cgroup2 hierarchy is mounted: the test cannot make a group")
	return ""
}

// startLeakerIn is startLeaker in the cgroup whose directory is dir. `ip netns exec`
// mounts a /sys of its own, without the cgroup hierarchies, so the test moves the process
// into the group from outside, before the process makes its socket (a socket belongs to
// the group of the process that made it, and an accepted one to its listener's).
func (e *env) startLeakerIn(path string, port uint16, dir string) int {
	e.t.Helper()
	script := fmt.Sprintf("read go && exec %s %s", path, netip.AddrPortFrom(testnet.LocalV4, port))
	cmd := e.Local.Command(context.Background(), "sh", "-c", script)
	in, err := cmd.StdinPipe()
	e.check(err)
	out, err := cmd.StdoutPipe()
	e.check(err)
	e.check(cmd.Start())
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	e.check(os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0))
	_, err = in.Write([]byte("go\n"))
	e.check(err)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "listening\n" {
		e.t.Fatalf("the leaker in %s: %q, %v", dir, line, err)
	}
	return cmd.Process.Pid
}

// tcpreapHostMounts runs tcpreap in A with the machine's mounts (for --cgroup).
func (e *env) tcpreapHostMounts(args ...string) testnet.Result {
	e.t.Helper()
	res, err := e.Local.RunHostMounts(append([]string{bin}, args...)...)
	e.check(err)
	e.t.Logf("nsenter %s %v → exit %d\nstdout:\n%sstderr:\n%s", e.Local.Name, args, res.Code, res.Stdout, res.Stderr)
	return res
}

// TestIntegrationPidThread: --pid with the id of a thread (not of a process) would select
// nothing, since the sockets are the process's: it is refused with the process to give
// instead, exit 2, nothing destroyed; --pid with the process's id destroys its sockets.
func TestIntegrationPidThread(t *testing.T) {
	e := setup(t)
	dir := buildLeaker(t, "threaded-app")
	pid := e.startLeaker(filepath.Join(dir, "threaded-app"), 7320, false)
	for range 2 {
		c, err := e.Dial(netip.AddrPortFrom(testnet.LocalV4, 7320))
		e.check(err)
		e.check(c.Close())
	}
	_, err := e.Local.Await("two CLOSE_WAIT sockets", func(ss testnet.Sockets) bool { return countOn(ss, "close_wait", 7320) == 2 })
	e.check(err)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	e.check(err)
	tid := 0
	for _, task := range tasks {
		if n, err := strconv.Atoi(task.Name()); err == nil && n != pid {
			tid = n
			break
		}
	}
	if tid == 0 {
		t.Fatalf("the leaker (a Go program) has no thread but its first: %v", tasks)
	}
	before := e.sockets()
	res := e.tcpreap("-y", "--pid", strconv.Itoa(tid), "--state", "close_wait")
	e.expectNothingDestroyed(res, 2, before)
	want := fmt.Sprintf("--pid %d is a thread of process %d (threaded-app), which holds its sockets: give --pid %d", tid, pid, pid)
	if !strings.Contains(res.Stderr, want) {
		t.Errorf("--pid of a thread: %s\nwant %s", res.Stderr, want)
	}
	r := e.json(0, "-y", "--pid", strconv.Itoa(pid), "--state", "close_wait")
	if r.Summary.Killed != 2 {
		t.Errorf("--pid %d: %+v, want 2 killed", pid, r.Summary)
	}
	if n := countOn(e.sockets(), "close_wait", 7320); n != 0 {
		t.Errorf("after --pid %d: %d CLOSE_WAIT sockets on :7320", pid, n)
	}
}

// TestIntegrationOwnersElsewhere: --pid of a process whose sockets are all in another
// network namespace (a container's), and --process with a name no process has, select
// nothing, and say why with what to type; the suggested --netns pid:PID finds them.
func TestIntegrationOwnersElsewhere(t *testing.T) {
	e := setup(t)
	dir := buildLeaker(t, "far-app")
	pid := e.startLeaker(filepath.Join(dir, "far-app"), 7400, false)
	// From the peer's namespace, where the process holds nothing.
	res := e.run(e.Peer, bin, "list", "--state", "all", "--pid", fmt.Sprint(pid))
	want := fmt.Sprintf("process %d (far-app) holds sockets, but none in this network namespace: its own may be another; give --netns pid:%d", pid, pid)
	if res.Code != 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("--pid %d from another namespace: exit %d, stderr %q; want 0 and %q", pid, res.Code, res.Stderr, want)
	}
	r := e.decode(e.run(e.Peer, bin, "list", "--json", "--state", "all", "--netns", fmt.Sprintf("pid:%d", pid), "--pid", fmt.Sprint(pid)), 0)
	if len(r.Sockets) == 0 {
		t.Errorf("--netns pid:%d --pid %d: nothing, want its listener", pid, pid)
	}
	res = e.run(e.Peer, bin, "list", "--process", "no-such-app")
	if !strings.Contains(res.Stderr, `no running process is named "no-such-app"`) {
		t.Errorf("--process no-such-app: stderr %q", res.Stderr)
	}
}
