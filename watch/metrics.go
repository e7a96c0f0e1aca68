package watch

// The metrics watch exports on /metrics. Their names, labels and help are
// a contract: dashboards and alerts query them. A census gauge is the last
// census's count, replaced whole by the next one (a series that is gone
// from the host is gone from /metrics); a counter counts from the start of
// the process.
//
// Cardinality is bounded: per namespace, the Top local ports, the Top
// processes (by command name) and the Top destinations by socket count
// keep their own series, and the rest are counted in one series labelled
// "other". A socket no process holds (TIME_WAIT, an orphan) has the
// process "-". A local port of the ephemeral range
// (net.ipv4.ip_local_port_range) that no socket listens on is counted in
// the range, as "32768-60999": the ports outgoing connections took, one
// or two sockets each.

// The labels.
const (
	// LabelNetNS names the network namespace: "" for the one watch runs
	// in (without --all-netns), else as tcpreap names it elsewhere (a
	// name under /run/netns, an nsfs path, or "pid:PID (command)").
	LabelNetNS = "netns"
	// LabelState is a TCP state as --state spells it (close_wait): the
	// census counts TCP sockets.
	LabelState = "state"
	// LabelLocalPort is a local port, the ephemeral range, or "other".
	LabelLocalPort = "local_port"
	// LabelProcess is a command name (as ps -o comm shows it), "-" for a
	// socket no process holds, or "other".
	LabelProcess = "process"
	// LabelDestination is a remote address and port ("192.0.2.2:443",
	// "[2001:db8::2]:443"), or "other".
	LabelDestination = "destination"
	// LabelPolicy is the name of a rule of the config.
	LabelPolicy = "policy"
	// LabelStage is "query" (dump and plan) or "destroy" (destroy, verify,
	// audit line).
	LabelStage = "stage"
	// LabelResult is "ok" or "refused".
	LabelResult = "result"
)

// A metric is the name, help and labels of one metric.
type metric struct {
	Name   string
	Help   string
	Labels []string
}

// The census's gauges, from the last census.
var (
	metricSockets = metric{"tcpreap_sockets",
		"Sockets by network namespace, state, local port and the process that holds them (top N of ports and processes per namespace, the rest as \"other\").",
		[]string{LabelNetNS, LabelState, LabelLocalPort, LabelProcess}}
	metricCloseWaitIdle = metric{"tcpreap_close_wait_oldest_idle_seconds",
		"How long the longest idle CLOSE_WAIT socket of each process (by command name) has sent and received nothing.",
		[]string{LabelNetNS, LabelProcess}}
	metricTimeWait = metric{"tcpreap_time_wait_sockets",
		"Timewait sockets (TIME_WAIT, and FIN_WAIT2 of a closed socket) of outgoing connections (local port in the ephemeral range) by destination (top N per namespace, the rest as \"other\").",
		[]string{LabelNetNS, LabelDestination}}
	metricPortsHeld = metric{"tcpreap_local_ports_held",
		"Local ports of the ephemeral range held by sockets of every state towards each destination (top N per namespace, the rest as \"other\"); each destination can have at most tcpreap_local_port_range_size.",
		[]string{LabelNetNS, LabelDestination}}
	metricPortRange = metric{"tcpreap_local_port_range_size",
		"Ports in the namespace's net.ipv4.ip_local_port_range: how many connections one destination can have at once.",
		[]string{LabelNetNS}}
	metricCensusSockets = metric{"tcpreap_census_sockets",
		"Sockets the last census counted in the namespace, every state.",
		[]string{LabelNetNS}}
	metricCensusTime = metric{"tcpreap_census_timestamp_seconds",
		"When the last census was taken, in seconds since the epoch.",
		nil}
)

// The counters and timings, since the process started.
var (
	metricCensusDuration = metric{"tcpreap_census_duration_seconds",
		"How long a census of every namespace covered took: dumps, owners, counts.",
		nil}
	metricCensusErrors = metric{"tcpreap_census_errors_total",
		"Censuses that failed (each with a log line); the metrics stay those of the last census that did not.",
		nil}
	metricMatched = metric{"tcpreap_policy_matched_sockets_total",
		"Sockets a policy's selection matched, interval after interval (the same socket again in each).",
		[]string{LabelPolicy}}
	metricDestroyed = metric{"tcpreap_policy_destroyed_sockets_total",
		"Sockets a reap policy destroyed.",
		[]string{LabelPolicy}}
	metricGone = metric{"tcpreap_policy_gone_sockets_total",
		"Sockets a reap policy found gone when it destroyed them (closed or replaced meanwhile).",
		[]string{LabelPolicy}}
	metricFailed = metric{"tcpreap_policy_failed_sockets_total",
		"Sockets a reap policy could not destroy, or whose destroy is still pending.",
		[]string{LabelPolicy}}
	metricSkipped = metric{"tcpreap_policy_skipped_sockets_total",
		"Sockets a guard kept back (the SSH session, a listener not named, an MPTCP subflow).",
		[]string{LabelPolicy}}
	metricRefused = metric{"tcpreap_policy_refused_sockets_total",
		"Sockets a reap policy matched over its max ceiling, and so did not destroy.",
		[]string{LabelPolicy}}
	metricRefusals = metric{"tcpreap_policy_refusals_total",
		"Intervals in which a reap policy matched more than its max ceiling and destroyed nothing.",
		[]string{LabelPolicy}}
	metricPolicyErrors = metric{"tcpreap_policy_errors_total",
		"Intervals in which a policy could not run (each with a log line).",
		[]string{LabelPolicy}}
	metricPolicyDuration = metric{"tcpreap_policy_duration_seconds",
		"How long each stage of a policy took: query (dump and plan) or destroy (destroy, verify, report, audit line).",
		[]string{LabelPolicy, LabelStage}}
	metricReloads = metric{"tcpreap_config_reloads_total",
		"Config reloads on SIGHUP, by result: ok, or refused (the config in force is kept).",
		[]string{LabelResult}}
	metricReloadOK = metric{"tcpreap_config_last_reload_successful",
		"1 when the last reload was taken, 0 when it was refused.",
		nil}
)

// Metrics are every metric watch exports, besides the Go runtime's (go_*)
// and the process's (process_*).
var Metrics = []metric{
	metricSockets, metricCloseWaitIdle, metricTimeWait, metricPortsHeld, metricPortRange, metricCensusSockets, metricCensusTime,
	metricCensusDuration, metricCensusErrors,
	metricMatched, metricDestroyed, metricGone, metricFailed, metricSkipped, metricRefused, metricRefusals, metricPolicyErrors, metricPolicyDuration,
	metricReloads, metricReloadOK,
}
