package host

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ServicesFile is the services database.
const ServicesFile = "/etc/services"

// servicesLimit bounds the services file: Debian's is 13 KiB.
const servicesLimit = 4 << 20

// Services is a services database (/etc/services): service names and their
// aliases, and their port per protocol. It is read on the first lookup, and
// only then.
type Services struct {
	path  string
	once  sync.Once
	table map[string]map[string]uint16 // name → protocol → port
	err   error
}

// NewServices returns the services database at path, not yet read.
func NewServices(path string) *Services { return &Services{path: path} }

// Port returns the port of a service for the first of the protocols ("tcp",
// "udp") that it has one for; the name is matched without regard to case.
// Every error is a sentence that ends by asking for the port number.
func (s *Services) Port(name string, protocols ...string) (uint16, error) {
	s.once.Do(func() { s.table, s.err = readServices(s.path) })
	if errors.Is(s.err, fs.ErrNotExist) {
		return 0, fmt.Errorf("unknown service %q (this host has no %s); give the port number", name, s.path)
	}
	if s.err != nil {
		return 0, fmt.Errorf("cannot look up service %q: %w; give the port number", name, s.err)
	}
	ports, ok := s.table[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("unknown service %q (not in %s); give the port number", name, s.path)
	}
	for _, p := range protocols {
		if port, ok := ports[p]; ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("service %q has no %s port in %s; give the port number", name, strings.Join(protocols, " or "), s.path)
}

func readServices(path string) (map[string]map[string]uint16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	table := map[string]map[string]uint16{}
	r := io.LimitReader(f, servicesLimit+1)
	n := 0
	sc := bufio.NewScanner(countingReader{r, &n})
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
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n > servicesLimit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, servicesLimit)
	}
	return table, nil
}

type countingReader struct {
	r io.Reader
	n *int
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += k
	return k, err
}
