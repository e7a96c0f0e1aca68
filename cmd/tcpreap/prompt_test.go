package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/reap"
)

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yep\n": false} {
		tty := &fakeTTY{in: strings.NewReader(answer)}
		c := &fakeCut{n: 3, out: socketOutcome{reap.NewReport(false)}}
		io := streams{Out: io.Discard, ErrOut: io.Discard, Terminal: func() (io.ReadWriteCloser, error) { return tty, nil }}
		act(t.Context(), &command{}, &actFlags{noAudit: true}, io, c)
		if c.executed != want {
			t.Errorf("answer %q: executed %v; want %v", answer, c.executed, want)
		}
		if !strings.Contains(tty.out.String(), "destroy 3 sockets? [y/N] ") {
			t.Errorf("prompt %q", tty.out.String())
		}
	}
}

// fakeTTY is a terminal: what is typed, and what is shown.
type fakeTTY struct {
	in  io.Reader
	out bytes.Buffer
}

func (f *fakeTTY) Read(p []byte) (int, error)  { return f.in.Read(p) }
func (f *fakeTTY) Write(p []byte) (int, error) { return f.out.Write(p) }
func (f *fakeTTY) Close() error                { return nil }
