package sockdiag

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// A ServiceLookup turns a service name into its port, as /etc/services has it.
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

// ServicesFile is where service names come from.
const ServicesFile = "/etc/services"

// Services returns a lookup of service names in the services file at path
// for the given protocols (a name and its aliases, matched without regard to
// case). The file is read on the first lookup, and only then.
func Services(path string, protocols []Protocol) ServiceLookup {
	var table map[string]map[string]uint16 // name → protocol → port
	var readErr error
	return func(name string) (uint16, error) {
		if table == nil && readErr == nil {
			table, readErr = readServices(path)
		}
		if errors.Is(readErr, fs.ErrNotExist) {
			return 0, fmt.Errorf("unknown service %q (this host has no %s); give the port number", name, path)
		}
		if readErr != nil {
			return 0, fmt.Errorf("cannot look up service %q: %v; give the port number", name, readErr)
		}
		ports, ok := table[strings.ToLower(name)]
		if !ok {
			return 0, fmt.Errorf("unknown service %q (not in %s); give the port number", name, path)
		}
		var want []string
		for _, p := range protocols {
			if port, ok := ports[p.String()]; ok {
				return port, nil
			}
			want = append(want, p.String())
		}
		return 0, fmt.Errorf("service %q has no %s port in %s; give the port number", name, strings.Join(want, " or "), path)
	}
}

func readServices(path string) (map[string]map[string]uint16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	table := map[string]map[string]uint16{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(fields[1], "/")
		port, err := strconv.ParseUint(num, 10, 16)
		if !ok || err != nil {
			continue
		}
		for _, name := range append(fields[:1:1], fields[2:]...) {
			key := strings.ToLower(name)
			if table[key] == nil {
				table[key] = map[string]uint16{}
			}
			if _, seen := table[key][proto]; !seen {
				table[key][proto] = uint16(port)
			}
		}
	}
	return table, sc.Err()
}
