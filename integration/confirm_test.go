package integration

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationConfirm drives the confirmation through a pseudo-terminal, as a person at
// a terminal sees it: the plan's summary and "destroy N sockets? [y/N] " on the terminal.
// Declining (n, an empty line, any other word, end of file; also for apply) destroys
// nothing and exits 3; y and yes destroy; -y, or a stdin or stderr that is not a terminal,
// destroys without asking; a plan with nothing to destroy asks nothing.
func TestIntegrationConfirm(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	bystander := e.inbound(l, otherPeer)
	p := testnet.PeerV4.String()

	// three are the connections each case works on: two ESTABLISHED and one CLOSE_WAIT.
	type three struct {
		pairs []testnet.Pair
		conns []conn
	}
	fresh := func(t *testing.T) three {
		t.Helper()
		e := &env{Net: e.Net, t: t}
		a, b, c := e.inbound(l, peer), e.inbound(l, peer), e.closeWait(l, peer)
		return three{[]testnet.Pair{a, b}, []conn{tcp("established", a), tcp("established", b), tcp("close_wait", c)}}
	}
	expectDestroyed := func(t *testing.T, s three) {
		t.Helper()
		ss := e.sockets()
		expectGone(t, ss, s.conns...)
		expectPresent(t, ss, "established", tcp("bystander", bystander))
		expectReset(t, "established", s.pairs[0].Peer)
	}
	expectKept := func(t *testing.T, s three, before testnet.Sockets) {
		t.Helper()
		expectUnchanged(t, before, e.sockets())
		for _, q := range s.pairs {
			if err := testnet.Echo(q); err != nil {
				t.Errorf("a connection no longer carries data: %v", err)
			}
		}
	}

	for _, c := range []struct {
		name, prompt, answer string
	}{
		{"n", "destroy 3 sockets? [y/N] ", "n\n"},
		{"an empty line (the default)", "destroy 3 sockets? [y/N] ", "\n"},
		{"anything else", "destroy 3 sockets? [y/N] ", "yess\n"},
		// ^D at the start of a line is end of file; one socket, so "socket".
		{"end of file", "destroy 1 socket? [y/N] ", "\x04"},
	} {
		t.Run("declined: "+c.name, func(t *testing.T) {
			s := fresh(t)
			before := e.sockets()
			args := []string{p}
			if strings.Contains(c.prompt, " 1 socket?") {
				args = []string{"--state", "close_wait", p}
			}
			term := startPTY(t, e.Local, args...)
			summary := term.await(c.prompt)
			if !strings.Contains(summary, p) {
				t.Errorf("the summary before the prompt does not name the peer %s:\n%s", p, summary)
			}
			term.send(c.answer)
			code, out := term.wait()
			if code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			if !strings.Contains(out, "tcpreap: not confirmed; nothing was destroyed") {
				t.Errorf("the terminal does not say \"tcpreap: not confirmed; nothing was destroyed\":\n%s", out)
			}
			expectKept(t, s, before)
			// Clean up for the next case, without a terminal: no prompt.
			e := &env{Net: e.Net, t: t}
			expectRecords(t, e.json(0, p), "killed", s.conns...)
		})
	}

	t.Run("declined: apply", func(t *testing.T) {
		s := fresh(t)
		e := &env{Net: e.Net, t: t}
		file := filepath.Join(t.TempDir(), "plan")
		e.check(os.WriteFile(file, []byte(e.plan(p)), 0o600))
		before := e.sockets()
		term := startPTY(t, e.Local, "apply", file)
		term.await("destroy 3 sockets? [y/N] ")
		term.send("n\n")
		if code, _ := term.wait(); code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
		expectKept(t, s, before)
		expectRecords(t, e.json(0, p), "killed", s.conns...)
	})

	t.Run("nothing to destroy: no question", func(t *testing.T) {
		before := e.sockets()
		term := startPTY(t, e.Local, p) // every connection with the peer is gone
		code, out := term.wait()
		if code != 0 || strings.Contains(out, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt", code)
		}
		expectUnchanged(t, before, e.sockets())
	})

	for _, answer := range []string{"y", "yes"} {
		t.Run("confirmed: "+answer, func(t *testing.T) {
			s := fresh(t)
			term := startPTY(t, e.Local, p)
			term.await("destroy 3 sockets? [y/N] ")
			term.send(answer + "\n")
			if code, _ := term.wait(); code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			expectDestroyed(t, s)
		})
	}

	t.Run("-y on a terminal", func(t *testing.T) {
		s := fresh(t)
		term := startPTY(t, e.Local, "-y", p)
		code, out := term.wait()
		if code != 0 || strings.Contains(out, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt:\n%s", code, out)
		}
		expectDestroyed(t, s)
	})

	t.Run("no terminal", func(t *testing.T) {
		s := fresh(t)
		e := &env{Net: e.Net, t: t}
		res := e.tcpreap(p) // stdin is /dev/null
		if res.Code != 0 || strings.Contains(res.Stderr, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt; stderr:\n%s", res.Code, res.Stderr)
		}
		expectDestroyed(t, s)
	})

	// Only when stdin and stderr are both a terminal does tcpreap ask.
	for _, c := range []struct {
		name         string
		stdin, other bool // the pty is stdin, or stderr (the other one is a pipe or /dev/null)
	}{
		{"stdin a terminal, stderr not", true, false},
		{"stderr a terminal, stdin not", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := fresh(t)
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer ptmx.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cmd := e.Local.Command(ctx, bin, p)
			var out bytes.Buffer // stdout, and stderr when it is not the terminal
			cmd.Stdout = &out
			cmd.Stdin, cmd.Stderr = tty, &out
			if c.other {
				cmd.Stdin, cmd.Stderr = nil, tty // nil: /dev/null
			}
			go drain(ptmx)
			err = cmd.Run()
			tty.Close()
			t.Logf("%s → output:\n%s", strings.Join(cmd.Args, " "), out.String())
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) || ctx.Err() != nil {
				t.Fatalf("%v (it waited for an answer?); output:\n%s", err, out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit %d, want 0; output:\n%s", code, out.String())
			}
			expectDestroyed(t, s)
		})
	}
}

// drain reads a pty's master side until it is closed, so that the program on the other
// side never blocks on a full terminal.
func drain(ptmx *os.File) {
	buf := make([]byte, 4096)
	for {
		if _, err := ptmx.Read(buf); err != nil {
			return
		}
	}
}

// ptyRun is tcpreap running in a host with a pseudo-terminal as its stdin, stdout and
// stderr, its controlling terminal.
type ptyRun struct {
	t     *testing.T
	cmd   *exec.Cmd
	ptmx  *os.File
	mu    sync.Mutex
	out   bytes.Buffer  // everything the terminal showed, our echoed answers included
	more  chan struct{} // a token after each read
	done  chan struct{} // closed when the terminal has no more to read
	ended bool
}

// startPTY starts tcpreap with args in h on a new pseudo-terminal. Cleanup kills it if the
// test did not wait for it.
func startPTY(t *testing.T, h *testnet.Host, args ...string) *ptyRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cmd := h.Command(ctx, append([]string{bin}, args...)...)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &ptyRun{t: t, cmd: cmd, ptmx: ptmx, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
			if err != nil { // EIO once tcpreap has exited and closed the terminal
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if !r.ended {
			cmd.Wait()
		}
		ptmx.Close()
	})
	return r
}

func (r *ptyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// await waits until the terminal shows s, and returns what it showed before s.
func (r *ptyRun) await(s string) string {
	r.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		out := r.output()
		if before, _, ok := strings.Cut(out, s); ok {
			return before
		}
		select {
		case <-r.more:
		case <-r.done:
			r.t.Fatalf("tcpreap ended without showing %q; the terminal showed:\n%s", s, r.output())
		case <-timeout:
			r.t.Fatalf("the terminal did not show %q within 5 s; it showed:\n%s", s, r.output())
		}
	}
}

// send types s on the terminal.
func (r *ptyRun) send(s string) {
	r.t.Helper()
	if _, err := r.ptmx.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for tcpreap to exit and returns its exit code and all the terminal showed.
func (r *ptyRun) wait() (int, string) {
	r.t.Helper()
	err := r.cmd.Wait()
	r.ended = true
	<-r.done
	out := r.output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("%v; the terminal showed:\n%s", err, out)
	}
	if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.t.Fatalf("tcpreap was killed by %v (waiting for an answer?); the terminal showed:\n%s", ws.Signal(), out)
	}
	r.t.Logf("%s on a terminal → exit %d; the terminal showed:\n%s", strings.Join(r.cmd.Args, " "), r.cmd.ProcessState.ExitCode(), out)
	return r.cmd.ProcessState.ExitCode(), out
}
