// Package kubernetes holds the manifests of deploy/kubernetes and their tests, in a module
// of its own so that the Kubernetes and Prometheus Operator types they are read into stay
// out of tcpreap's module. The tests read every manifest strictly (a field its type does
// not have fails) and check that the pieces fit: the DaemonSet runs the image's binary
// with its ConfigMap's config where it mounts it, the Service and the ServiceMonitor find
// its port "metrics", and the one-shot pod runs the same image.
// integration/deploy_watch_test.go runs their commands against real sockets.
package kubernetes

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// objects are the documents of one manifest file, read strictly into their types.
type objects struct {
	namespaces      []*corev1.Namespace
	configMaps      []*corev1.ConfigMap
	daemonSets      []*appsv1.DaemonSet
	services        []*corev1.Service
	pods            []*corev1.Pod
	serviceMonitors []*monitoringv1.ServiceMonitor
}

// read reads the manifest file name: each document by its apiVersion and kind into that
// type, strictly. A document of another kind, or one that does not read, fails the test.
func read(t *testing.T, name string) objects {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var o objects
	for i, doc := range regexp.MustCompile(`(?m)^---\n`).Split(string(b), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s, document %d: %v", name, i+1, err)
		}
		var into any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			into = add(&o.namespaces)
		case "v1 ConfigMap":
			into = add(&o.configMaps)
		case "apps/v1 DaemonSet":
			into = add(&o.daemonSets)
		case "v1 Service":
			into = add(&o.services)
		case "v1 Pod":
			into = add(&o.pods)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			into = add(&o.serviceMonitors)
		default:
			t.Fatalf("%s, document %d: %q %q is not a kind these tests know", name, i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s, document %d (%s): not a %s as Kubernetes reads it: %v", name, i+1, tm.Kind, tm.Kind, err)
		}
	}
	return o
}

// add appends a new zero object to list and returns it.
func add[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
}

// entrypoint is the Containerfile's ENTRYPOINT: where the image holds tcpreap.
func entrypoint(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Containerfile has no ENTRYPOINT [\"PATH\"]")
	}
	return string(m[1])
}

// TestWatch: tcpreap-watch.yaml is a Namespace that allows privileged pods, a ConfigMap
// whose watch.yaml is deploy/systemd/watch.yaml, a DaemonSet and a headless Service; the
// DaemonSet's pods run tcpreap watch from the image on the node's network and pids, with
// the config where the ConfigMap is mounted, listening on the port named metrics, probed
// on /healthz, with the four capabilities it needs and no other, unprivileged.
func TestWatch(t *testing.T) {
	o := read(t, "tcpreap-watch.yaml")
	if len(o.namespaces) != 1 || len(o.configMaps) != 1 || len(o.daemonSets) != 1 || len(o.services) != 1 || len(o.pods)+len(o.serviceMonitors) != 0 {
		t.Fatalf("want a Namespace, a ConfigMap, a DaemonSet and a Service: %+v", o)
	}
	ns, cm, ds, svc := o.namespaces[0], o.configMaps[0], o.daemonSets[0], o.services[0]
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("namespace %s enforces Pod Security %q, want privileged (hostPID, hostNetwork, SYS_ADMIN)", ns.Name, got)
	}
	for _, m := range []metav1.ObjectMeta{cm.ObjectMeta, ds.ObjectMeta, svc.ObjectMeta} {
		if m.Namespace != ns.Name {
			t.Errorf("%s is in namespace %q, want %s", m.Name, m.Namespace, ns.Name)
		}
	}

	example, err := os.ReadFile("../systemd/watch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["watch.yaml"] != string(example) {
		t.Errorf("the ConfigMap's watch.yaml is not deploy/systemd/watch.yaml")
	}

	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID {
		t.Errorf("the pods have hostNetwork %v, hostPID %v; want both", spec.HostNetwork, spec.HostPID)
	}
	if ds.Spec.Selector == nil || !subset(ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels) {
		t.Errorf("the DaemonSet's selector %v does not select its pods %v", ds.Spec.Selector, ds.Spec.Template.Labels)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !slices.Equal(c.Command, []string{entrypoint(t)}) {
		t.Errorf("the container runs %v, want the image's %s", c.Command, entrypoint(t))
	}
	args := map[string]string{}
	for i, a := range c.Args {
		if i == 0 {
			if a != "watch" {
				t.Errorf("the container's first argument is %q, want watch", a)
			}
			continue
		}
		k, v, _ := strings.Cut(a, "=")
		args[k] = v
	}
	if _, ok := args["--all-netns"]; !ok {
		t.Errorf("the container's arguments %v lack --all-netns: the pods' namespaces would go uncounted", c.Args)
	}
	config := args["--config"]
	var mounted bool
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name && config == path.Join(m.MountPath, "watch.yaml") && m.ReadOnly {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("--config=%s is not the ConfigMap's watch.yaml where it is mounted, read-only", config)
	}
	port := containerPort(t, c, "metrics")
	if want := "$(NODE_IP):" + port.String(); args["--listen"] != want {
		t.Errorf("--listen=%s, want %s: the port named metrics, on the node's address", args["--listen"], want)
	}
	var nodeIP bool
	for _, e := range c.Env {
		nodeIP = nodeIP || e.Name == "NODE_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP"
	}
	if !nodeIP {
		t.Error("NODE_IP is not the pod's address (status.podIP; the node's, on the host network)")
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("metrics") {
			t.Errorf("the %s probe is not GET /healthz on the port metrics: %+v", name, p)
		}
	}
	checkSecurity(t, c, "NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH")
	if c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the root file system is writable: the image needs nothing written")
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("the container has no memory limit")
	}

	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !subset(svc.Spec.Selector, ds.Spec.Template.Labels) {
		t.Errorf("the Service is not headless over the DaemonSet's pods: %+v", svc.Spec)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") ||
		svc.Spec.Ports[0].Port != port.IntVal {
		t.Errorf("the Service's ports are not metrics → the pods' metrics: %+v", svc.Spec.Ports)
	}
}

// TestServiceMonitor: servicemonitor.yaml is a ServiceMonitor that scrapes the Service of
// tcpreap-watch.yaml, in its namespace, on its port metrics, at /metrics.
func TestServiceMonitor(t *testing.T) {
	o := read(t, "servicemonitor.yaml")
	watch := read(t, "tcpreap-watch.yaml")
	if len(o.serviceMonitors) != 1 || len(o.namespaces)+len(o.configMaps)+len(o.daemonSets)+len(o.services)+len(o.pods) != 0 {
		t.Fatalf("want one ServiceMonitor: %+v", o)
	}
	sm, svc := o.serviceMonitors[0], watch.services[0]
	if sm.Namespace != svc.Namespace || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{svc.Namespace}) {
		t.Errorf("the ServiceMonitor is in %q and looks in %v, want %s", sm.Namespace, sm.Spec.NamespaceSelector.MatchNames, svc.Namespace)
	}
	if !subset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("the ServiceMonitor's selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("the ServiceMonitor's endpoints are not the Service's port %s at /metrics: %+v", svc.Spec.Ports[0].Name, sm.Spec.Endpoints)
	}
}

// TestPod: tcpreap-pod.yaml is a Pod on the node's pids that runs the image of the
// DaemonSet's (its binary, nothing of the node's: no volume), with the three capabilities
// a one-shot reap in another namespace needs.
func TestPod(t *testing.T) {
	o := read(t, "tcpreap-pod.yaml")
	if len(o.pods) != 1 || len(o.namespaces)+len(o.configMaps)+len(o.daemonSets)+len(o.services)+len(o.serviceMonitors) != 0 {
		t.Fatalf("want one Pod: %+v", o)
	}
	pod, ds := o.pods[0], read(t, "tcpreap-watch.yaml").daemonSets[0]
	if !pod.Spec.HostPID || len(pod.Spec.Containers) != 1 || len(pod.Spec.Volumes) != 0 {
		t.Fatalf("want one container of a Pod with hostPID and no volume: %+v", pod.Spec)
	}
	c := pod.Spec.Containers[0]
	if c.Image != ds.Spec.Template.Spec.Containers[0].Image || !slices.Equal(c.Command, []string{entrypoint(t)}) {
		t.Errorf("the pod runs %v of %s, want %s of the DaemonSet's image %s", c.Command, c.Image, entrypoint(t), ds.Spec.Template.Spec.Containers[0].Image)
	}
	checkSecurity(t, c, "NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE")
}

// checkSecurity: the container runs as root (capabilities are a root's: a container
// of another uid gets none of those added), unprivileged, without privilege escalation,
// with every capability dropped and only caps added.
func checkSecurity(t *testing.T, c corev1.Container, caps ...string) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatalf("container %s has no capabilities set", c.Name)
	}
	var added, dropped []string
	for _, c := range sc.Capabilities.Add {
		added = append(added, string(c))
	}
	for _, c := range sc.Capabilities.Drop {
		dropped = append(dropped, string(c))
	}
	if !slices.Equal(dropped, []string{"ALL"}) || !slices.Equal(added, caps) {
		t.Errorf("container %s drops %v and adds %v; want ALL, and %v", c.Name, dropped, added, caps)
	}
	if sc.Privileged != nil && *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s may be privileged or escalate: %+v", c.Name, sc)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("container %s does not run as root (uid 0): the capabilities it adds would not be its", c.Name)
	}
}

// containerPort is c's port called name.
func containerPort(t *testing.T, c corev1.Container, name string) intstr.IntOrString {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return intstr.FromInt32(p.ContainerPort)
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return intstr.IntOrString{}
}

// subset: every label of sel is in labels, with its value, and sel is not empty.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}
