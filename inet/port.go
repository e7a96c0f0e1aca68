package inet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A PortRange is an inclusive range of ports; Lo == Hi is one port.
type PortRange struct{ Lo, Hi uint16 }

// Contains reports whether port p is in the range.
func (r PortRange) Contains(p uint16) bool { return r.Lo <= p && p <= r.Hi }

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// A ServiceLookup turns a service name into its port (the host's services
// database has them).
type ServiceLookup func(name string) (uint16, error)

// ParsePorts parses a port word: items separated by commas, each a number, a
// range LO-HI, or a service name that lookup resolves. The equivalent of ss's
// "sport"/"dport" filters.
func ParsePorts(word string, lookup ServiceLookup) ([]PortRange, error) {
	var out []PortRange
	for _, item := range strings.Split(word, ",") {
		r, err := parsePortItem(strings.TrimSpace(item), lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parsePortItem(item string, lookup ServiceLookup) (PortRange, error) {
	if item == "" {
		return PortRange{}, errors.New("empty port; give a number, a range LO-HI or a service name")
	}
	if lo, hi, ok := strings.Cut(item, "-"); ok && isDigits(lo) && isDigits(hi) {
		l, err := parsePortNumber(lo)
		if err != nil {
			return PortRange{}, err
		}
		h, err := parsePortNumber(hi)
		if err != nil {
			return PortRange{}, err
		}
		if l > h {
			return PortRange{}, fmt.Errorf("port range %q runs backwards; write it low-high, as %d-%d", item, h, l)
		}
		return PortRange{l, h}, nil
	}
	if isDigits(item) {
		p, err := parsePortNumber(item)
		return PortRange{p, p}, err
	}
	if !isServiceName(item) {
		return PortRange{}, fmt.Errorf("%q is not a port: give a number (0-65535), a range LO-HI or a service name", item)
	}
	p, err := lookup(item)
	return PortRange{p, p}, err
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %s is out of range: ports run from 0 to 65535", s)
	}
	return uint16(n), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isServiceName accepts what /etc/services uses for names: a letter, then
// letters, digits, '-', '_', '.', '+' and '*' (as in "kerberos-adm",
// "z39.50", "x11").
func isServiceName(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("-_.+*", c):
		default:
			return false
		}
	}
	return true
}
