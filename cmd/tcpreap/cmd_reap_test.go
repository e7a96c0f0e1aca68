package main

import "testing"

// TestDryRun: -n is list under the root command: it needs no --all and
// destroys nothing. (A destroy runs only in the integration tests, in
// network namespaces of their own.)
func TestDryRun(t *testing.T) {
	needLinux(t)
	for _, args := range [][]string{{"-n", "--json", nobody}, {"--dry-run", "-q", "--json", nobody}} {
		code, stdout, stderr := runCLI(args...)
		if code != exitOK || stderr != "" || stdout != `{"summary":{"matched":0,"would_kill":0,"killed":0,"gone":0,"failed":0,"skipped":0,"dry_run":true}}`+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}
