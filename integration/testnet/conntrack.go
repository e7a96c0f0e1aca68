package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// An Entry is one conntrack entry as conntrack -L (Debian's conntrack-tools), not
// tcpreap, shows it: the tests' independent oracle.
type Entry struct {
	Proto       string // tcp, udp
	State       string // TCP only, as conntrack prints it: ESTABLISHED
	Orig, Reply [2]netip.AddrPort
	Flags       []string // [ASSURED], [UNREPLIED], without brackets
	ID          uint32
}

// Conntrack lists h's TCP and UDP conntrack entries with conntrack -L -o id, within the
// package's timeout.
func (h *Host) Conntrack() ([]Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []byte
	for _, family := range []string{"ipv4", "ipv6"} { // conntrack -L alone lists IPv4 only
		b, err := h.Command(ctx, "conntrack", "-L", "-f", family, "-o", "id").Output()
		if err != nil {
			return nil, fmt.Errorf("conntrack -L -f %s in %s: %w", family, h.Name, err)
		}
		out = append(out, b...)
	}
	var entries []Entry
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if proto, _, _ := strings.Cut(sc.Text(), " "); proto != "tcp" && proto != "udp" {
			continue // ICMP and others: no ports, and no flow of the tests'
		}
		e, err := parseEntry(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("conntrack -L in %s: %w", h.Name, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// parseEntry reads a line such as "tcp 6 431999 ESTABLISHED src=198.51.100.2
// dst=198.51.100.1 sport=40000 dport=8080 src=192.0.2.2 dst=192.0.2.1 sport=80
// dport=40000 [ASSURED] mark=0 use=1 id=123".
func parseEntry(line string) (Entry, error) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return Entry{}, fmt.Errorf("short line %q", line)
	}
	e := Entry{Proto: fields[0]}
	var addrs []netip.Addr
	var ports []uint16
	for _, f := range fields[3:] {
		key, value, ok := strings.Cut(f, "=")
		switch {
		case strings.HasPrefix(f, "["):
			e.Flags = append(e.Flags, strings.Trim(f, "[]"))
		case !ok && e.Proto == "tcp" && e.State == "":
			e.State = f
		case key == "src" || key == "dst":
			a, err := netip.ParseAddr(value)
			if err != nil {
				return Entry{}, fmt.Errorf("%q in %q", f, line)
			}
			addrs = append(addrs, a)
		case key == "sport" || key == "dport":
			p, err := strconv.ParseUint(value, 10, 16)
			if err != nil {
				return Entry{}, fmt.Errorf("%q in %q", f, line)
			}
			ports = append(ports, uint16(p))
		case key == "id":
			id, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return Entry{}, fmt.Errorf("%q in %q", f, line)
			}
			e.ID = uint32(id)
		}
	}
	if len(addrs) != 4 || len(ports) != 4 {
		return Entry{}, fmt.Errorf("no two tuples in %q", line)
	}
	e.Orig = [2]netip.AddrPort{netip.AddrPortFrom(addrs[0], ports[0]), netip.AddrPortFrom(addrs[1], ports[1])}
	e.Reply = [2]netip.AddrPort{netip.AddrPortFrom(addrs[2], ports[2]), netip.AddrPortFrom(addrs[3], ports[3])}
	return e, nil
}

// FlowRecord is one conntrack entry of tcpreap conntrack --json, decoded on its own (the
// field names docs/reference.md documents), not with tcpreap's types.
type FlowRecord struct {
	Proto        string   `json:"proto"`
	Family       string   `json:"family"`
	State        string   `json:"state"`
	OrigSrcIP    string   `json:"orig_src_ip"`
	OrigSrcPort  uint16   `json:"orig_src_port"`
	OrigDstIP    string   `json:"orig_dst_ip"`
	OrigDstPort  uint16   `json:"orig_dst_port"`
	ReplySrcIP   string   `json:"reply_src_ip"`
	ReplySrcPort uint16   `json:"reply_src_port"`
	ReplyDstIP   string   `json:"reply_dst_ip"`
	ReplyDstPort uint16   `json:"reply_dst_port"`
	Status       []string `json:"status"`
	Mark         uint32   `json:"mark"`
	Zone         uint16   `json:"zone"`
	TimeoutS     uint32   `json:"timeout_s"`
	ID           uint32   `json:"id"`
	Action       string   `json:"action"`
	Reason       string   `json:"reason"`
	Error        string   `json:"error"`
	Ends         string   `json:"ends"`
}

// FlowReport is the whole --json output of tcpreap conntrack.
type FlowReport struct {
	Flows   []FlowRecord
	Summary Summary
}

// ParseFlowReport decodes tcpreap conntrack's NDJSON: entries, then one summary object
// that must come last.
func ParseFlowReport(out string) (FlowReport, error) {
	var r FlowReport
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, line := range lines {
		if i == len(lines)-1 {
			var s struct {
				Summary *Summary `json:"summary"`
			}
			if err := json.Unmarshal([]byte(line), &s); err != nil || s.Summary == nil {
				return r, fmt.Errorf("the last line is no summary: %q (%v)", line, err)
			}
			r.Summary = *s.Summary
			return r, nil
		}
		var f FlowRecord
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return r, fmt.Errorf("line %d: %q: %v", i+1, line, err)
		}
		r.Flows = append(r.Flows, f)
	}
	return r, fmt.Errorf("no output")
}

// NetNSFD is a file descriptor of h's network namespace, for a library's Config.NetNS.
func (h *Host) NetNSFD() int { return int(h.ns) }
