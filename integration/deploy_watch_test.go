// deploy/ for tcpreap watch: the systemd service passes systemd-analyze verify, and its
// command, with the example config and only the unit's capabilities, serves the census of
// a leaking application run by another user (its process named) and reloads on the unit's
// ExecReload; the Kubernetes DaemonSet's command, with its ConfigMap's config, its
// capabilities and the node's address, on a node of the test's own (a namespace with
// its own pids and no other network namespace), serves the same to a scraper on another
// host and answers its probes.

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// unitSettings reads a unit file's settings: each key's values, in order.
func unitSettings(t *testing.T, unit string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", unit, line)
		}
		settings[k] = append(settings[k], v)
	}
	return settings
}

// boundingSet is setpriv's --bounding-set for capabilities as systemd or Kubernetes names
// them (CAP_NET_ADMIN or NET_ADMIN): those and no others.
func boundingSet(caps []string) string {
	set := "-all"
	for _, c := range caps {
		set += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	return set
}

// httpGetIn asks addr for path from h's network namespace, over a connection made there, and
// returns the status code and the body.
func httpGetIn(h *testnet.Host, addr netip.AddrPort, path string) (int, string, error) {
	var c net.Conn
	if err := h.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr.String(), 5*time.Second)
		return err
	}); err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, string(body), err
}

// metricLine is one sample of Prometheus's text format: NAME{LABELS} VALUE.
var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var metricLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?`)

// metricSum is the sum of the samples of metric in text whose labels include want.
func metricSum(text, metric string, want map[string]string) (float64, bool) {
	var total float64
	var found bool
	for line := range strings.Lines(text) {
		m := metricLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[1] != metric {
			continue
		}
		labels := map[string]string{}
		for _, l := range metricLabel.FindAllStringSubmatch(m[2], -1) {
			labels[l[1]] = l[2]
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if v, err := strconv.ParseFloat(m[3], 64); match && err == nil {
			total, found = total+v, true
		}
	}
	return total, found
}

// awaitScrape scrapes /metrics at addr from h until the samples of metric with the labels
// want add up to value, for at most 20 s or until the watch exits, and returns the last
// scrape.
func awaitScrape(t *testing.T, exited <-chan int, h *testnet.Host, addr netip.AddrPort, metric string, want map[string]string, value float64) string {
	t.Helper()
	var last string
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case code := <-exited:
			t.Fatalf("tcpreap watch exited %d (its log is above)", code)
		default:
		}
		code, body, err := httpGetIn(h, addr, "/metrics")
		if err != nil || code != http.StatusOK {
			lastErr = fmt.Errorf("status %d, %v", code, err)
			continue
		}
		last = body
		if v, ok := metricSum(body, metric, want); ok && v == value {
			return body
		}
	}
	t.Fatalf("%s%v never added up to %v on %s from %s (last error: %v); the last scrape:\n%s", metric, want, value, addr, h.Name, lastErr, last)
	return ""
}

// startDaemon starts argv (a tcpreap watch) with cmd, stderr to the test's log, and stops
// it when the test ends; it returns a channel that has its exit code once it exits.
func startDaemon(t *testing.T, cmd *exec.Cmd) <-chan int {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("watch: " + sc.Text())
		}
		close(logged)
	}()
	exited := make(chan int, 1)
	go func() {
		<-logged
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	return exited
}

// TestIntegrationDeployWatchService: tcpreap-watch.service passes systemd-analyze verify; its
// ExecStart, with the example config (watch.yaml) and only the unit's capabilities, in A,
// serves /healthz and the census: the CLOSE_WAIT sockets of leaky-app, which runs as nobody,
// by their process; the unit's ExecReload (SIGHUP) has it read the config again, and
// SIGTERM stops it with exit 0.
func TestIntegrationDeployWatchService(t *testing.T) {
	units := filepath.Join(deployDir, "systemd")
	unit := filepath.Join(units, "tcpreap-watch.service")
	t.Run("verify", func(t *testing.T) {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(t.TempDir(), "tcpreap-watch.service")
		if err := os.WriteFile(copied, []byte(strings.ReplaceAll(string(b), installedBin, bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("systemd-analyze", "verify", copied)
		cmd.Env = append(os.Environ(), "MANPATH="+manDir(t), "SYSTEMD_LOG_COLOR=0")
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	settings := unitSettings(t, unit)
	if got := settings["ExecReload"]; !slices.Equal(got, []string{"/bin/kill -HUP $MAINPID"}) {
		t.Fatalf("ExecReload=%v, want /bin/kill -HUP $MAINPID: tcpreap watch reloads on SIGHUP", got)
	}
	argv := strings.Fields(settings["ExecStart"][0])
	const configPath = "/etc/tcpreap/watch.yaml"
	if len(argv) < 2 || argv[0] != installedBin || argv[1] != "watch" || !slices.Contains(argv, configPath) {
		t.Fatalf("ExecStart runs %v, want %s watch with --config %s", argv, installedBin, configPath)
	}
	var caps []string
	for _, v := range settings["CapabilityBoundingSet"] {
		caps = append(caps, strings.Fields(v)...)
	}

	e := setup(t)
	dir := buildLeaker(t, "leaky-app")
	e.leak(dir, "leaky-app", 7440, true, 3)
	config := filepath.Join(t.TempDir(), "watch.yaml")
	example, err := os.ReadFile(filepath.Join(units, "watch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, example, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, w := range argv {
		if w == configPath {
			argv[i] = config
		}
	}
	addr := netip.MustParseAddrPort("127.0.0.1:9737")
	if !slices.Contains(argv, addr.String()) {
		t.Fatalf("ExecStart %v does not listen on %s", argv, addr)
	}
	cmd := e.Local.Command(context.Background(), slices.Concat([]string{"setpriv", "--bounding-set", boundingSet(caps), bin}, argv[1:])...)
	exited := startDaemon(t, cmd)

	awaitScrape(t, exited, e.Local, addr, "tcpreap_sockets", map[string]string{"state": "close_wait", "local_port": "7440", "process": "leaky-app"}, 3)
	if code, body, err := httpGetIn(e.Local, addr, "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz: %d %q, %v", code, body, err)
	}

	reload := strings.Fields(strings.ReplaceAll(settings["ExecReload"][0], "$MAINPID", strconv.Itoa(cmd.Process.Pid)))
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", reload, err, out)
	}
	awaitScrape(t, exited, e.Local, addr, "tcpreap_config_reloads_total", map[string]string{"result": "ok"}, 1)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("SIGTERM: exit %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("SIGTERM: still running after 10 s")
	}
}

// TestIntegrationDeployWatchDaemonSet: the DaemonSet's container, as a node would run it.
// The node is A, with a PID namespace and a /proc of its own (hostPID: every process of
// the node, and here no other) and no named network namespace but A's own; leaky-app runs
// there as nobody. The container's command and args, its ConfigMap's watch.yaml where it is
// mounted, NODE_IP the node's address, and only the capabilities the container adds: the
// probes' /healthz answers 200 on the port named metrics, and a scraper on B reads there the
// census of every namespace of the node (--all-netns), with leaky-app's CLOSE_WAIT sockets
// by their process.
func TestIntegrationDeployWatchDaemonSet(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "tcpreap-watch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	var cm corev1.ConfigMap
	for _, doc := range regexp.MustCompile(`(?m)^---\n`).Split(string(b), -1) {
		switch {
		case strings.Contains(doc, "\nkind: DaemonSet\n"):
			err = yaml.UnmarshalStrict([]byte(doc), &ds)
		case strings.Contains(doc, "\nkind: ConfigMap\n"):
			err = yaml.UnmarshalStrict([]byte(doc), &cm)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(ds.Spec.Template.Spec.Containers) != 1 || len(ds.Spec.Template.Spec.Volumes) != 1 || ds.Spec.Template.Spec.Volumes[0].ConfigMap == nil {
		t.Fatalf("want a DaemonSet of one container and its ConfigMap: %+v", ds.Spec.Template.Spec)
	}
	c := ds.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{imageBinary}) || len(c.VolumeMounts) != 1 {
		t.Fatalf("the container runs %v with mounts %v; want the image's %s with the ConfigMap", c.Command, c.VolumeMounts, imageBinary)
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	var caps []string
	for _, c := range c.SecurityContext.Capabilities.Add {
		caps = append(caps, string(c))
	}

	// The ConfigMap's files where the container finds them.
	mount := t.TempDir()
	for name, data := range cm.Data {
		if err := os.WriteFile(filepath.Join(mount, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"NODE_IP": testnet.LocalV4.String()}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	var args []string
	for _, a := range c.Args {
		a = ref.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := env[m[2:len(m)-1]]
			if !ok {
				t.Fatalf("the container uses %s, which the test does not set", m)
			}
			return v
		})
		args = append(args, strings.ReplaceAll(a, c.VolumeMounts[0].MountPath, mount))
	}

	e := setup(t)
	dir := buildLeaker(t, "leaky-app")
	const leakPort = 7450
	// The node: A's network; pids, /proc and /run/netns of its own; leaky-app as nobody,
	// then tcpreap watch with the container's capabilities alone.
	script := `set -e
mount -t tmpfs tcpreap-node /run/netns
if [ -d /run/docker/netns ]; then mount -t tmpfs tcpreap-node /run/docker/netns; fi
leaker=$1; bounding=$2; shift 2
` + strings.Join(nobody, " ") + ` "$leaker" ` + netip.AddrPortFrom(testnet.LocalV4, leakPort).String() + ` >/dev/null &
exec setpriv --bounding-set "$bounding" "$@"
`
	cmd := e.Local.Command(context.Background(), slices.Concat(
		[]string{"unshare", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child", "--", "sh", "-c", script, "sh",
			filepath.Join(dir, "leaky-app"), boundingSet(caps), bin}, args)...)
	exited := startDaemon(t, cmd)

	// leaky-app's CLOSE_WAIT sockets, made from B once it listens.
	to := netip.AddrPortFrom(testnet.LocalV4, leakPort)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := e.Dial(to)
		if err == nil {
			e.check(c.Close())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaky-app does not listen on %s: %v", to, err)
		}
	}
	e.moreLeak(leakPort, 2)

	metrics := netip.AddrPortFrom(testnet.LocalV4, uint16(port))
	text := awaitScrape(t, exited, e.Peer, metrics, "tcpreap_sockets", map[string]string{"state": "close_wait", "local_port": strconv.Itoa(leakPort), "process": "leaky-app"}, 3)
	if _, ok := metricSum(text, "tcpreap_census_sockets", nil); !ok {
		t.Errorf("no tcpreap_census_sockets in:\n%s", text)
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if code, body, err := httpGetIn(e.Peer, metrics, p.HTTPGet.Path); err != nil || code != http.StatusOK {
			t.Errorf("the probe's %s: %d %q, %v", p.HTTPGet.Path, code, body, err)
		}
	}
}
