// Package planfile is tcpreap's plan file: a reviewed plan written to disk
// by "tcpreap plan" and destroyed later, exactly, by "tcpreap apply".
//
// The format is its own contract, versioned apart from any output: NDJSON
// with a header line, one line per socket carrying every field of it that the
// planner and the executor use (the full sockid with cookie and interface,
// state, timer, queues, uid, inode) and the network namespace it lives in
// (one part per namespace, each named in the header with how to reach it
// again: a name, a path, pid:PID, or none for the one tcpreap runs in),
// and a trailer with the counts and a SHA-256 digest of every byte before
// it:
//
//	{"plan":{"version":3,"boot_id":…,…,"namespaces":[{"id":"net:[4026531840]","reach":""}]}}
//	{"proto":"tcp",…,"cookie":…,"netns":"net:[4026531840]","action":"destroy"}
//	{"proto":"tcp",…,"action":"skip","reason":"listen"}
//	{"summary":{"targets":1,"skipped":1},"digest":"sha256:…"}
//
// Read trusts nothing it has not checked: size, digest, that every line is
// byte for byte what Write makes of its values, the boot (cookies count up
// from boot) and the namespaces (File.Open refuses one that is gone or is
// another now). The digest catches accidents (a file cut short or edited),
// not tampering: a plan file is trusted like a script that root runs.
package planfile
