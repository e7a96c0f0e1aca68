// Package render turns what tcpreap found and did into text for a person
// or a JSON reader: the sockets of a report (Sockets: an ss-like table, or
// NDJSON whose fields are a contract), conntrack entries (Flows), the
// census of summary (Census, CensusJSON), the doctor's findings (Doctor),
// the plans' summaries that a confirmation shows (PlanSummary,
// FlowPlanSummary), and the progress bar of a long destroy (Progress).
//
// Every string that comes from a file, the kernel or the command line is
// made Printable before it reaches a terminal, and the table's columns are
// as wide as a terminal draws their cells (wide characters count two).
// It reads nothing and decides nothing: the values come from reap, kill,
// flows, census and doctor, already made.
package render
