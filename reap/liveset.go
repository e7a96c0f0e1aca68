package reap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/inet"
)

// maxLiveSet bounds a live set: its prefixes, and the bytes of a file of
// them.
const (
	maxLiveSet     = 100_000
	maxLiveSetFile = 4 << 20
)

// liveSetTimeout bounds the reading of a live set that is a pipe or a FIFO.
const liveSetTimeout = time.Minute

// ParseLiveSet reads the live set of Selection.PeerNotIn: each word an
// address or a CIDR prefix (inet.ParsePrefix), or else the name of a file
// that holds one on each line, with comments from # to the end of a line
// and blank lines. A set with no address (an empty file) would select
// every connection, and is refused; so is a set that takes in every
// address of IPv4 or of IPv6 (0.0.0.0/0, ::/0, as inet.CoversAddrs judges
// them for --all): it says nothing of which of that family's peers live.
// An error names the word, and the file's line.
func ParseLiveSet(words []string) ([]netip.Prefix, error) {
	var set []netip.Prefix
	for _, w := range words {
		p, perr := inet.ParsePrefix(strings.TrimSpace(w))
		if perr == nil {
			set = append(set, p)
			continue
		}
		var ze *inet.ZoneError
		if errors.As(perr, &ze) {
			return nil, perr
		}
		got, err := readLiveSet(w)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is neither an address, a CIDR prefix nor a file: %v", w, perr)
		}
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("%s holds no address: an empty live set would select every connection; list the live addresses, one a line", w)
		}
		set = append(set, got...)
		if len(set) > maxLiveSet {
			return nil, fmt.Errorf("%s: the live set has more than %d prefixes; give their common prefixes", w, maxLiveSet)
		}
	}
	for fam, name := range map[inet.Family]string{inet.IPv4: "IPv4", inet.IPv6: "IPv6"} {
		if inet.CoversAddrs([]inet.Family{fam}, set) {
			return nil, fmt.Errorf("the live set takes in every %s address, so it says nothing of which %s peers live; list the live addresses or prefixes themselves", name, name)
		}
	}
	return set, nil
}

// readLiveSet reads a file of the live set.
func readLiveSet(name string) ([]netip.Prefix, error) {
	// Non-blocking, so that a FIFO nobody writes to opens at once (and
	// reads as empty) instead of holding tcpreap in open(2); what a writer
	// sends must come within liveSetTimeout.
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_ = f.SetReadDeadline(time.Now().Add(liveSetTimeout))
	var set []netip.Prefix
	sc := bufio.NewScanner(io.LimitReader(f, maxLiveSetFile+1))
	read, line := 0, 1
	for ; sc.Scan(); line++ {
		read += len(sc.Bytes()) + 1
		if read > maxLiveSetFile {
			return nil, fmt.Errorf("%s is larger than %d MiB; give the live set's common prefixes", name, maxLiveSetFile>>20)
		}
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		p, err := inet.ParsePrefix(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if set = append(set, p); len(set) > maxLiveSet {
			return nil, fmt.Errorf("%s holds more than %d prefixes; give their common prefixes", name, maxLiveSet)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: the line is longer than 64 KiB; give one address or prefix a line", name, line)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return set, nil
}
