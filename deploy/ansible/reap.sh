#!/bin/sh
# reap.sh PATTERN [list|summary|doctor] [tcpreap options and PEERs]
#
# Runs tcpreap --json with the given options on every host of the Ansible host pattern
# PATTERN (an ad-hoc run of the command module, as root), and collects what each host did:
# results/HOST.ndjson (tcpreap's NDJSON: one line per socket, then the summary) and
# results/HOST.rc (its exit code: 0 done, 1 failure, 2 bad input, 3 refused by --max).
# Dry-run first (-n), then run with -y and a --max:
#
#   ANSIBLE_INVENTORY=fleet.ini deploy/ansible/reap.sh db_clients -n --stalled --dport 5432
#   ANSIBLE_INVENTORY=fleet.ini deploy/ansible/reap.sh db_clients -y --max 200 --stalled --dport 5432
#
# The options are the words of one command line (no quoting); host variables work
# ({{ netns }}). Ansible's own settings come from its environment: ANSIBLE_INVENTORY,
# ANSIBLE_BECOME (true unless set), ANSIBLE_FORKS. TCPREAP (tcpreap) names the binary on the
# hosts, TCPREAP_RESULTS (results) the directory. The exit code is 0 when every host
# answered, 1 when no host matched the pattern, else Ansible's.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: reap.sh PATTERN [tcpreap options and PEERs]" >&2
	exit 2
fi
pattern=$1
shift
results=${TCPREAP_RESULTS:-results}
export ANSIBLE_BECOME="${ANSIBLE_BECOME:-true}"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$results"
rc=0
# --json goes after a command word (tcpreap list --json …), where tcpreap takes it.
command=""
case "${1:-}" in
list | ls | summary | top | doctor | conntrack) command="$1 " && shift ;;
esac
ansible "$pattern" -m ansible.builtin.command -a "${TCPREAP:-tcpreap} $command--json $*" --tree "$tree" >&2 || rc=$?
# Each host's result is one JSON object; tcpreap's own exit code is its rc.
python3 - "$tree" "$results" <<'PY'
import json, os, sys
tree, results = sys.argv[1], sys.argv[2]
for host in sorted(os.listdir(tree)):
    with open(os.path.join(tree, host)) as f:
        r = json.load(f)
    with open(os.path.join(results, host + ".ndjson"), "w") as out:
        out.write(r.get("stdout", "") + ("\n" if r.get("stdout") else ""))
    with open(os.path.join(results, host + ".rc"), "w") as out:
        out.write("%s\n" % r.get("rc", "unreachable"))
    print("%s: exit %s" % (host, r.get("rc", "unreachable: " + r.get("msg", ""))))
PY
# A pattern that matches no host is a mistake, not a fleet that answered: Ansible only
# warns and exits 0.
if [ -z "$(ls -A "$tree")" ]; then
	echo "reap.sh: no host of pattern $pattern answered (see ansible-inventory --graph); nothing was run" >&2
	exit 1
fi
# tcpreap's exit codes per host are in the results; a host that failed counts here only
# when Ansible could not run the command at all (4: unreachable; others: Ansible's errors).
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then exit "$rc"; fi
exit 0
