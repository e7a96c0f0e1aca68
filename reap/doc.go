// Package reap is tcpreap's pipeline as a library, across network
// namespaces: a Selection and a Where go into Query (or a plan file into
// FromFile), which dumps and plans in every namespace and returns a Run; the
// Run knows its targets, its breakdown, its plan file and who holds its
// sockets, and either shows them (DryRun) or destroys them (Execute). Both
// give a Report: the results grouped per namespace.
//
// reap returns values. It prints nothing, names no command-line option and
// asks nobody: the notes a person should read come back as Run.Notes, the
// progress of a destroy through ExecuteOptions, and a refusal (--max, a
// confirmation) is the caller's to make between Query and Execute.
package reap
