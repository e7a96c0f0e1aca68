// deploy/: the systemd units that reap a known CLOSE_WAIT leak pass systemd-analyze verify
// and their command reaps exactly the idle leak; the one-shot Kubernetes manifest is a valid
// Pod of the image with only the capabilities it names, and its command (the image's binary:
// image_test.go), run with only those capabilities, reaches the target process's namespace;
// the Ansible recipe collects each host's NDJSON. deploy_watch_test.go has tcpreap watch's.

package integration

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// deployDir is the repository's deploy/.
const deployDir = "../deploy"

// installedBin is where the units expect tcpreap (the packages put it there); the tests run
// the binary they built in its place.
const installedBin = "/usr/sbin/tcpreap"

// leak starts leaky-app (integration/leaker) in A on port, and makes n of its connections
// CLOSE_WAIT; it returns the leaker's pid and the peers' ends' addresses.
func (e *env) leak(dir, name string, port uint16, user bool, n int) (int, []netip.AddrPort) {
	e.t.Helper()
	pid := e.startLeaker(filepath.Join(dir, name), port, user)
	return pid, e.moreLeak(port, n)
}

// moreLeak makes n more CLOSE_WAIT sockets of the leaker on port.
func (e *env) moreLeak(port uint16, n int) []netip.AddrPort {
	e.t.Helper()
	var peers []netip.AddrPort
	for range n {
		c, err := e.Dial(netip.AddrPortFrom(testnet.LocalV4, port))
		e.check(err)
		peers = append(peers, c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort())
		e.check(c.Close())
	}
	want := len(peers)
	_, err := e.Local.Await(fmt.Sprintf("%d more CLOSE_WAIT on :%d", n, port), func(ss testnet.Sockets) bool {
		found := 0
		for _, p := range peers {
			if s, ok := ss.Find(netip.AddrPortFrom(testnet.LocalV4, port), p); ok && s.State == "close_wait" {
				found++
			}
		}
		return found == want
	})
	e.check(err)
	return peers
}

// closeWaitPeers are the peers of the CLOSE_WAIT sockets on port in A now.
func (e *env) closeWaitPeers(port uint16) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range e.sockets() {
		if s.State == "close_wait" && s.Local.Port() == port {
			out = append(out, s.Remote)
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

func sortedPeers(ps []netip.AddrPort) []netip.AddrPort {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return ps
}

// unitCommand is the ExecStart of a unit file, split in words, with ${NAME} taken from
// env (as systemd does for a word that is only ${NAME}).
func unitCommand(t *testing.T, unit string, env map[string]string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			words = strings.Fields(rest)
		}
	}
	if len(words) == 0 {
		t.Fatalf("%s has no ExecStart", unit)
	}
	ref := regexp.MustCompile(`^\$\{([A-Z_]+)\}$`)
	for i, w := range words {
		if m := ref.FindStringSubmatch(w); m != nil {
			v, ok := env[m[1]]
			if !ok {
				t.Fatalf("%s uses ${%s}, which the example configuration does not set", unit, m[1])
			}
			words[i] = v
		}
	}
	return words
}

// envFile reads a systemd EnvironmentFile of NAME=value lines.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not NAME=value", path, line)
		}
		env[k] = v
	}
	return env
}

// TestIntegrationDeploySystemd: the leak units pass systemd-analyze verify, and the
// service's command, with the example configuration for the test's leaking application,
// reaps its idle CLOSE_WAIT sockets, leaves the one that is not idle yet and another
// application's, and refuses (exit 3, nothing destroyed) when MAX is exceeded.
func TestIntegrationDeploySystemd(t *testing.T) {
	units := filepath.Join(deployDir, "systemd")
	t.Run("verify", func(t *testing.T) {
		// systemd-analyze verify checks that ExecStart's program exists at its path and
		// that Documentation's man page is there: the copies run the test's binary, and
		// MANPATH has its man page.
		dir := t.TempDir()
		for _, name := range []string{"tcpreap-leak@.service", "tcpreap-leak@.timer"} {
			b, err := os.ReadFile(filepath.Join(units, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(string(b), installedBin, bin)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "tcpreap-leak@myapp.service"), filepath.Join(dir, "tcpreap-leak@myapp.timer"))
		cmd.Env = append(os.Environ(), "MANPATH="+manDir(t), "SYSTEMD_LOG_COLOR=0")
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	e := setup(t)
	dir := buildLeaker(t, "leaky-app", "other-app")
	env := envFile(t, filepath.Join(units, "leak-example.conf"))
	if env["PROCESS"] != "leaky-app" {
		t.Fatalf("the example configuration names %q; the test runs leaky-app", env["PROCESS"])
	}
	// 5 s: the fresh socket must stay short of it until tcpreap has run, on
	// a loaded machine too.
	env["PORT"], env["IDLE"] = "7410", "5s"
	_, old := e.leak(dir, "leaky-app", 7410, false, 3)
	_, others := e.leak(dir, "other-app", 7411, false, 2)
	time.Sleep(5500 * time.Millisecond)
	fresh := e.moreLeak(7410, 1) // not idle for 5 s yet

	argv := unitCommand(t, filepath.Join(units, "tcpreap-leak@.service"), env)
	if argv[0] != installedBin {
		t.Fatalf("ExecStart runs %s, want %s", argv[0], installedBin)
	}
	r := e.decode(e.run(e.Local, append([]string{bin}, argv[1:]...)...), 0)
	if r.Summary.Killed != len(old) {
		t.Errorf("summary %+v, want the %d idle sockets killed", r.Summary, len(old))
	}
	if got := e.closeWaitPeers(7410); !slices.Equal(got, sortedPeers(fresh)) {
		t.Errorf("CLOSE_WAIT of leaky-app left: %v, want only the fresh one %v", got, fresh)
	}
	if got := e.closeWaitPeers(7411); !slices.Equal(got, sortedPeers(others)) {
		t.Errorf("CLOSE_WAIT of other-app left: %v, want all %v", got, others)
	}

	// Over MAX: refused whole.
	e.moreLeak(7410, 2)
	time.Sleep(5500 * time.Millisecond)
	env["MAX"] = "2"
	before := e.sockets()
	argv = unitCommand(t, filepath.Join(units, "tcpreap-leak@.service"), env)
	res := e.run(e.Local, append([]string{bin}, argv[1:]...)...)
	e.expectNothingDestroyed(res, 3, before)
}

// manDir is a MANPATH directory with tcpreap's man page, as the binary writes it.
func manDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "man8"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "man").Output()
	if err != nil {
		t.Fatalf("tcpreap man: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "man8", "tcpreap.8"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestIntegrationDeployKubernetes: the manifest is a Pod as Kubernetes reads it (strictly:
// an unknown field fails), on the host's pids, with no capability but those it adds; its
// command, with TARGET_PID the pid of a leaking application that runs as nobody in A, run
// from another namespace with only those capabilities, reaps that application's
// CLOSE_WAIT sockets and leaves another's.
func TestIntegrationDeployKubernetes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "tcpreap-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("the manifest is not a Pod as Kubernetes reads it: %v", err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" || !pod.Spec.HostPID || len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container of a v1 Pod with hostPID: %+v", pod)
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	var caps []string
	if sc != nil && sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			caps = append(caps, string(c))
		}
	}
	if sc == nil || sc.Capabilities == nil || !slices.Equal(capNames(sc.Capabilities.Drop), []string{"ALL"}) ||
		(sc.Privileged != nil && *sc.Privileged) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(caps, []string{"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"}) {
		t.Fatalf("the container's security context is not: drop ALL, add NET_ADMIN SYS_ADMIN SYS_PTRACE, unprivileged: %+v", sc)
	}
	if !slices.Equal(c.Command, []string{imageBinary}) {
		t.Fatalf("the container runs %v, want the image's %s", c.Command, imageBinary)
	}

	e := setup(t)
	dir := buildLeaker(t, "leaky-app", "other-app")
	pid, doomed := e.leak(dir, "leaky-app", 7420, true, 3)
	_, others := e.leak(dir, "other-app", 7421, false, 2)
	env := map[string]string{}
	for _, v := range c.Env {
		env[v.Name] = v.Value
	}
	env["TARGET_PID"], env["PORT"] = fmt.Sprint(pid), "7420"
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	var args []string
	for _, a := range c.Args {
		args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := env[m[2:len(m)-1]]
			if !ok {
				t.Fatalf("the manifest uses %s, which its env does not set", m)
			}
			return v
		}))
	}
	// The pod's capabilities and no others, from a namespace that is not A.
	bounding := "-all"
	for _, c := range caps {
		bounding += ",+" + strings.ToLower(c)
	}
	r := e.decode(e.run(e.Peer, slices.Concat([]string{"setpriv", "--bounding-set", bounding, bin}, args)...), 0)
	if r.Summary.Killed != len(doomed) {
		t.Errorf("summary %+v, want %d killed", r.Summary, len(doomed))
	}
	if got := e.closeWaitPeers(7420); len(got) != 0 {
		t.Errorf("CLOSE_WAIT of leaky-app left: %v", got)
	}
	if got := e.closeWaitPeers(7421); !slices.Equal(got, sortedPeers(others)) {
		t.Errorf("CLOSE_WAIT of other-app left: %v, want all %v", got, others)
	}

	// Without SYS_PTRACE the namespace of a process of another user cannot be opened:
	// the manifest's third capability is needed, and the run says which.
	e.moreLeak(7420, 1)
	before := e.sockets()
	res := e.run(e.Peer, slices.Concat([]string{"setpriv", "--bounding-set", "-all,+net_admin,+sys_admin", bin}, args)...)
	if !strings.Contains(res.Stderr, "CAP_SYS_PTRACE") {
		t.Errorf("without CAP_SYS_PTRACE: %q does not say it is needed", res.Stderr)
	}
	e.expectNothingDestroyed(res, 1, before)
}

func capNames(cs []corev1.Capability) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c))
	}
	return out
}

// TestIntegrationDeployAnsible: the ad-hoc recipe, run against two hosts of a local
// inventory, each mapped to a test namespace of its own, collects each host's NDJSON and
// exit code; the reap reaches each host's namespace.
func TestIntegrationDeployAnsible(t *testing.T) {
	if _, err := exec.LookPath("ansible"); err != nil {
		t.Fatal("ansible is missing: make deps installs ansible-core")
	}
	a, b := setup(t), &env{Net: testnet.New(t), t: t}
	dir := buildLeaker(t, "leaky-app")
	a.leak(dir, "leaky-app", 7430, false, 2)
	b.leak(dir, "leaky-app", 7430, false, 1)

	work := t.TempDir()
	inventory := filepath.Join(work, "fleet.ini")
	if err := os.WriteFile(inventory, []byte(fmt.Sprintf("[fleet]\nhost-a ansible_connection=local netns=%s\nhost-b ansible_connection=local netns=%s\n",
		a.Local.Name, b.Local.Name)), 0o600); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(work, "results")
	script, err := filepath.Abs(filepath.Join(deployDir, "ansible", "reap.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "fleet", "-y", "--netns", "{{ netns }}", "--state", "close_wait", "--process", "leaky-app")
	cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY="+inventory, "ANSIBLE_BECOME=false", "TCPREAP="+bin, "TCPREAP_RESULTS="+results,
		"HOME="+work, "ANSIBLE_LOCAL_TEMP="+filepath.Join(work, "tmp"), "ANSIBLE_NOCOLOR=1")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	t.Logf("reap.sh:\n%s", out)
	if err != nil {
		t.Fatalf("reap.sh: %v", err)
	}
	for host, want := range map[string]int{"host-a": 2, "host-b": 1} {
		rc, err := os.ReadFile(filepath.Join(results, host+".rc"))
		if err != nil || strings.TrimSpace(string(rc)) != "0" {
			t.Errorf("%s: exit %q, %v; want 0", host, rc, err)
		}
		ndjson, err := os.ReadFile(filepath.Join(results, host+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := testnet.ParseReport(string(ndjson))
		if err != nil || r.Summary.Killed != want {
			t.Errorf("%s: summary %+v, %v; want %d killed", host, r.Summary, err, want)
		}
	}
	if got := a.closeWaitPeers(7430); len(got) != 0 {
		t.Errorf("host-a's CLOSE_WAIT left: %v", got)
	}
	if got := b.closeWaitPeers(7430); len(got) != 0 {
		t.Errorf("host-b's CLOSE_WAIT left: %v", got)
	}
}
