package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// RunIsolated runs argv where the only network namespaces the host has are the named
// ones given (each a Host's, by its Name): in a mount namespace of its own, whose
// /run/netns holds only them and whose /run/docker/netns is empty, in a PID namespace of
// its own with its own /proc (so no other process's namespace shows), and in a fresh,
// empty network namespace of its own. A program that looks at "every network namespace"
// (tcpreap --all-netns) sees these and nothing of the machine's. The limits of Run apply.
func RunIsolated(hosts []*Host, argv ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*timeout)
	defer cancel()
	stash, err := os.MkdirTemp("", "tcpreap-isolated-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(stash)
	// The namespaces are bound aside first, then a tmpfs hides /run/netns and they are
	// bound back in, by name. All of it is in the new mount namespace only
	// (unshare --mount makes its mounts private).
	script := `set -e
stash=$1; shift
n=$1; shift
names=""
i=0
while [ $i -lt $n ]; do
	touch "$stash/$1"; mount --bind "/run/netns/$1" "$stash/$1"
	names="$names $1"; shift; i=$((i+1))
done
mount -t tmpfs tcpreap-isolated /run/netns
for name in $names; do touch "/run/netns/$name"; mount --bind "$stash/$name" "/run/netns/$name"; done
if [ -d /run/docker/netns ]; then mount -t tmpfs tcpreap-isolated /run/docker/netns; fi
exec "$@"
`
	args := []string{"--mount", "--pid", "--fork", "--mount-proc", "--net", "--kill-child", "--", "sh", "-c", script, "sh", stash, fmt.Sprint(len(hosts))}
	for _, h := range hosts {
		args = append(args, h.Name)
	}
	cmd := exec.CommandContext(ctx, "unshare", append(args, argv...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_CONNECTION=") && !strings.HasPrefix(kv, "SSH_CLIENT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	h := &Host{Name: "isolated"}
	return h.run(cmd, argv)
}
