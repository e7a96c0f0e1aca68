package testnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SSHPort is the port of the SSH server in A. The namespace is the test's own, so a fixed
// port is free; it is not 22, so that nothing tcpreap does can lean on the number.
const SSHPort = 2022

// sshdPath is Debian's OpenSSH server (package openssh-server). sshd re-executes itself for
// every connection and refuses to start from a relative path.
const sshdPath = "/usr/sbin/sshd"

// SSHD is a real OpenSSH server in host A, run as a plain foreground process
// (`sshd -D -e -f CONFIG`) with a configuration, a host key and a client key of its own,
// listening on SSHPort at LocalV4 and at LocalLinkLocal. It lets root in with that client
// key and nothing else. Session opens a session from host B.
type SSHD struct {
	// Dir holds the server's files. It is removed when the server is closed, after every
	// process in the Net has ended, so sessions may keep their own files here too.
	Dir string

	net    *Net
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	key    string // the client's private key
}

// StartSSHD starts an SSH server in A and waits until it listens on both addresses (some
// tens of milliseconds). Closing the Net stops it, and everything it started.
func (n *Net) StartSSHD() (*SSHD, error) {
	if err := checkSSH(); err != nil {
		return nil, err
	}
	// The privilege-separation directory, which sshd needs to exist at start. /run is
	// emptied at boot, and it is made there by the ssh service, which never runs here.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tcpreap-sshd-")
	if err != nil {
		return nil, err
	}
	s := &SSHD{Dir: dir, net: n, log: new(syncBuffer), exited: make(chan struct{}), key: filepath.Join(dir, "client_key")}
	if err := s.start(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	n.track(s)
	if err := s.awaitListening(); err != nil {
		return nil, err // the Net closes it
	}
	return s, nil
}

// checkSSH reports the programs an SSHD and its sessions need that are missing, or nil.
func checkSSH() error {
	var missing []string
	if _, err := os.Stat(sshdPath); err != nil {
		missing = append(missing, sshdPath+" (openssh-server)")
	}
	for _, prog := range []string{"ssh", "ssh-keygen", "tmux"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the SSH session tests need %s: `make deps` as root installs them", strings.Join(missing, ", "))
	}
	return nil
}

func (s *SSHD) start() error {
	hostKey := filepath.Join(s.Dir, "host_key")
	for _, key := range []string{hostKey, s.key} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tcpreap-test", "-f", key).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ssh-keygen -f %s: %v: %s", key, err, out)
		}
	}
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		return err
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		return err
	}
	// StrictModes would refuse authorized_keys under /tmp, which anyone may write to.
	// Without PAM, sshd checks the account itself (a root password of "!" would count as
	// locked); Debian's PAM stack is for the machine's own logins. SHLVL=1 keeps Debian's
	// bash, root's shell, from reading the machine's /root/.bashrc, as it otherwise does
	// for a command run by sshd: what that file prints, sets or costs is not the test's.
	config := fmt.Sprintf(`ListenAddress %s
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PermitUserEnvironment no
PermitUserRC no
AllowAgentForwarding no
AllowTcpForwarding local
X11Forwarding no
PrintMotd no
PrintLastLog no
SetEnv SHLVL=1
LogLevel VERBOSE
`, netip.AddrPortFrom(LocalV4, SSHPort), netip.AddrPortFrom(LocalLinkLocal, SSHPort), hostKey, authorized)
	configFile := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return err
	}
	s.cmd = s.net.Local.Command(context.Background(), sshdPath, "-D", "-e", "-f", configFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Every session sshd forks logs to the same pipe; Wait stops waiting for them then.
	s.cmd.WaitDelay = timeout
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s in %s: %w", sshdPath, s.net.Local.Name, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// awaitListening waits for the lines sshd logs once it listens on each address.
func (s *SSHD) awaitListening() error {
	want := []string{
		fmt.Sprintf("Server listening on %s port %d.", LocalV4, SSHPort),
		fmt.Sprintf("Server listening on %s port %d.", LocalLinkLocal, SSHPort),
	}
	deadline := time.Now().Add(timeout)
	for {
		log := s.log.String()
		listening := true
		for _, w := range want {
			listening = listening && strings.Contains(log, w)
		}
		switch {
		case listening:
			return nil
		case s.hasExited():
			return fmt.Errorf("sshd in %s exited (%s) before it listened:\n%s", s.net.Local.Name, s.cmd.ProcessState, log)
		case time.Now().After(deadline):
			return fmt.Errorf("sshd in %s does not listen on %s after %v:\n%s", s.net.Local.Name, want, timeout, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *SSHD) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Log is what sshd and the sessions it forked have logged so far.
func (s *SSHD) Log() string { return s.log.String() }

// Close kills the server process (by its pid), waits for it, and removes Dir. The
// sessions it forked are the Net's to end: its Close kills every process in A.
func (s *SSHD) Close() error {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
	return os.RemoveAll(s.Dir)
}

// Session is an SSH client (ssh(1), Debian's openssh-client) in host B with one session
// open on an SSHD, running a command with root's shell in A as `ssh root@ADDR COMMAND`
// does, without a terminal. The test writes lines to the command's standard input (Send)
// and reads its standard output line by line (Await).
type Session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the command's standard output, closed at its end
	stderr *syncBuffer
	exited chan struct{}

	mu     sync.Mutex
	stdout []string // every line read from lines
}

// Session starts ssh in B, to the server at to (LocalV4 or LocalLinkLocal, whose zone
// names B's veth0), as root with the server's client key, running command; it returns
// once ssh has started, before the session is open. Nothing of the machine's ssh
// configuration, agent or known hosts is used. The Net's Close kills it if it is still
// there.
func (s *SSHD) Session(to netip.Addr, command string) (*Session, error) {
	return s.session(to, command, nil)
}

// SessionVia is Session through a jump host, as ssh -J (ProxyJump) makes one: a first
// session to the server at jump forwards a connection to the server at to (the same
// server, when jump is this host's own address), over which the session runs command.
func (s *SSHD) SessionVia(jump, to netip.Addr, command string) (*Session, error) {
	hop := append([]string{"ssh"}, s.sshOptions()...)
	hop = append(hop, "-W", "%h:%p", "-p", strconv.Itoa(SSHPort), "root@"+jump.String())
	return s.session(to, command, []string{"-o", "ProxyCommand=" + strings.Join(hop, " ")})
}

// sshOptions are ssh's options for a session: the server's client key, nothing of the
// machine's configuration, agent or known hosts.
func (s *SSHD) sshOptions() []string {
	return []string{"-F", "/dev/null", "-T",
		"-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(int(timeout.Seconds())),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR"}
}

func (s *SSHD) session(to netip.Addr, command string, extra []string) (*Session, error) {
	c := &Session{lines: make(chan string, 64), stderr: new(syncBuffer), exited: make(chan struct{})}
	args := append(s.sshOptions(), extra...)
	args = append(args, "-p", strconv.Itoa(SSHPort), "root@"+to.String(), command)
	c.cmd = s.net.Peer.Command(context.Background(), append([]string{"ssh"}, args...)...)
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	c.stdin = stdin
	// A pipe of our own for stdout: Wait would close one made by StdoutPipe, and could
	// lose the last lines.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = w, c.stderr
	c.cmd.WaitDelay = timeout
	err = c.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("starting ssh in %s: %w", s.net.Peer.Name, err)
	}
	s.net.track(c)
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// Await reads the command's output up to the first line that begins with prefix, and
// returns the rest of that line. It waits five seconds at most; its error says how the
// session stands.
func (c *Session) Await(prefix string) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("the session's output ended before a line %q: %s", prefix, c.Status())
			}
			c.mu.Lock()
			c.stdout = append(c.stdout, line)
			c.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest, nil
			}
		case <-timer.C:
			return "", fmt.Errorf("no line %q from the session within %v: %s", prefix, timeout, c.Status())
		}
	}
}

// Send writes line and a newline to the command's standard input.
func (c *Session) Send(line string) error {
	select {
	case <-c.exited:
		return fmt.Errorf("the session has ended: %s", c.Status())
	default:
	}
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return fmt.Errorf("writing to the session: %w: %s", err, c.Status())
	}
	return nil
}

// Wait waits, five seconds at most, for ssh to end, and returns its exit code (255 when
// the connection broke), everything the command printed and what ssh printed on stderr.
func (c *Session) Wait() (Result, error) {
	select {
	case <-c.exited:
	case <-time.After(timeout):
		return Result{}, fmt.Errorf("ssh is still running after %v: %s", timeout, c.Status())
	}
	for line := range c.lines {
		c.mu.Lock()
		c.stdout = append(c.stdout, line)
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out strings.Builder
	for _, line := range c.stdout {
		out.WriteString(line + "\n")
	}
	return Result{Stdout: out.String(), Stderr: c.stderr.String(), Code: c.cmd.ProcessState.ExitCode()}, nil
}

// Status says whether ssh is still running, and if not, how it ended and what it said.
func (c *Session) Status() string {
	select {
	case <-c.exited:
		return fmt.Sprintf("ssh exited with code %d; its stderr: %q", c.cmd.ProcessState.ExitCode(), strings.TrimSpace(c.stderr.String()))
	default:
		return "ssh is still running"
	}
}

// Close kills ssh (by its pid) if it is still running and waits for it.
func (c *Session) Close() error {
	c.cmd.Process.Kill()
	<-c.exited
	return nil
}

// syncBuffer is a bytes.Buffer that a process's output may be copied into while a test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ParseSSHConnection reads the value of SSH_CONNECTION as OpenSSH writes it: "CLIENT_IP
// CLIENT_PORT SERVER_IP SERVER_PORT", a link-local address with its zone
// ("fe80::2%veth0 46068 fe80::1%veth0 22").
func ParseSSHConnection(v string) (client, server netip.AddrPort, err error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return client, server, fmt.Errorf("SSH_CONNECTION %q does not have four fields", v)
	}
	var errs [4]error
	var ca, sa netip.Addr
	var cp, sp uint64
	ca, errs[0] = netip.ParseAddr(f[0])
	cp, errs[1] = strconv.ParseUint(f[1], 10, 16)
	sa, errs[2] = netip.ParseAddr(f[2])
	sp, errs[3] = strconv.ParseUint(f[3], 10, 16)
	if err := errors.Join(errs[:]...); err != nil {
		return client, server, fmt.Errorf("SSH_CONNECTION %q: %w", v, err)
	}
	return netip.AddrPortFrom(ca, uint16(cp)), netip.AddrPortFrom(sa, uint16(sp)), nil
}
