package testnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Capture is tcpdump (Debian's, not tcpreap's code) reading every TCP packet on every
// interface of a host, into a file: the tests' independent record of what was sent.
type Capture struct {
	host *Host
	cmd  *exec.Cmd
	file string
	done chan error
}

// Capture starts tcpdump -i any in h and returns once it listens. In immediate mode:
// else the kernel hands tcpdump a block of packets only when it is full or a second old,
// and what a block held at Stop would be lost.
func (h *Host) Capture(dir string) (*Capture, error) {
	c := &Capture{host: h, file: filepath.Join(dir, h.Name+".pcap"), done: make(chan error, 1)}
	c.cmd = h.Command(context.Background(), "tcpdump", "-i", "any", "-nn", "-U", "--immediate-mode", "-Z", "root", "-w", c.file, "tcp")
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("tcpdump in %s: %w", h.Name, err)
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "listening on") {
				said = true
				listening <- true
			}
		}
		if !said {
			listening <- false
		}
		_, _ = io.Copy(io.Discard, stderr)
		c.done <- c.cmd.Wait()
	}()
	select {
	case ok := <-listening:
		if !ok {
			return nil, fmt.Errorf("tcpdump in %s ended before it listened", h.Name)
		}
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		return nil, fmt.Errorf("tcpdump in %s did not listen within %s", h.Name, timeout)
	}
	return c, nil
}

// A Packet is one TCP packet of a capture: the interface, its tuple and its flags as
// tcpdump prints them ("S", "R", "P.", ".").
type Packet struct {
	Interface string
	Src, Dst  netip.AddrPort
	Flags     string
}

func (p Packet) String() string {
	return fmt.Sprintf("%s %s > %s [%s]", p.Interface, p.Src, p.Dst, p.Flags)
}

// Stop stops tcpdump and returns the packets it captured.
func (c *Capture) Stop() ([]Packet, error) {
	// tcpdump writes what it holds on SIGINT.
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	defer os.Remove(c.file)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tcpdump", "-nn", "-r", c.file).Output()
	if err != nil {
		return nil, fmt.Errorf("tcpdump -r %s: %w", c.file, err)
	}
	var ps []Packet
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		p, err := parsePacket(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.host.Name, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// parsePacket reads a line of tcpdump -nn -r of an -i any capture, such as
// "10:00:00.000000 veth0 In  IP 198.51.100.2.40000 > 198.51.100.1.8080: Flags [S], seq 1".
func parsePacket(line string) (Packet, error) {
	f := strings.Fields(line)
	for i := 0; i+3 < len(f); i++ {
		if (f[i] != "IP" && f[i] != "IP6") || f[i+2] != ">" {
			continue
		}
		src, err1 := dotted(f[i+1])
		dst, err2 := dotted(strings.TrimSuffix(f[i+3], ":"))
		if err1 != nil || err2 != nil {
			return Packet{}, fmt.Errorf("packet %q: %v %v", line, err1, err2)
		}
		p := Packet{Interface: f[1], Src: src, Dst: dst}
		if at := strings.Index(line, "Flags ["); at >= 0 {
			p.Flags, _, _ = strings.Cut(line[at+len("Flags ["):], "]")
		}
		return p, nil
	}
	return Packet{}, fmt.Errorf("no TCP packet in %q", line)
}

// dotted reads tcpdump's ADDR.PORT.
func dotted(s string) (netip.AddrPort, error) {
	at := strings.LastIndexByte(s, '.')
	if at < 0 {
		return netip.AddrPort{}, fmt.Errorf("%q has no port", s)
	}
	a, err := netip.ParseAddr(s[:at])
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(s[at+1:], 10, 16)
	return netip.AddrPortFrom(a, uint16(port)), err
}
