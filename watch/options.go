package watch

import "time"

// The command line of tcpreap watch, which fills Options:
//
//	tcpreap watch --config FILE [--listen ADDR] [--interval DURATION]
//	              [--top N] [--netns NS | --all-netns] [--no-audit]
//
//	--config FILE        the policies (YAML); required
//	--listen ADDR        serve /metrics and /healthz on ADDR (127.0.0.1:9737)
//	--interval DURATION  take a census and apply the policies every DURATION (15s)
//	--top N              series per namespace for ports, processes and
//	                     destinations; the rest are "other" (20)
//	--netns NS           work in network namespace NS
//	--all-netns          work in every network namespace of the host
//	--no-audit           write no audit line to syslog for a destroy
//
// SIGTERM and SIGINT stop it (a reap in progress writes its report and its
// audit line first), SIGHUP reloads the config. Exit codes: 0 stopped by a
// signal, 1 a runtime failure (the address cannot be listened on), 2 bad
// input (a config that does not validate).

// Defaults of Options.
const (
	DefaultListen   = "127.0.0.1:9737"
	DefaultInterval = 15 * time.Second
	DefaultTop      = 20
)
