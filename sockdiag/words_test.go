package sockdiag

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseStates(t *testing.T) {
	tests := []struct {
		word           string
		selected, name StateMask
		err            string
	}{
		{word: "established", selected: 1 << Established, name: 1 << Established},
		{word: "CLOSE_WAIT", selected: 1 << CloseWait, name: 1 << CloseWait},
		{word: "close-wait,time-wait", selected: 1<<CloseWait | 1<<TimeWait, name: 1<<CloseWait | 1<<TimeWait},
		{word: "fin-wait-1", selected: 1 << FinWait1, name: 1 << FinWait1},
		{word: "fin_wait_2", selected: 1 << FinWait2, name: 1 << FinWait2},
		{word: "listening", selected: 1 << Listen, name: 1 << Listen},
		{word: "closed", selected: 1 << Close, name: 1 << Close},
		{word: "syn-recv", selected: 1 << SynRecv, name: 1 << SynRecv},
		{word: "all", selected: 0xffe, name: 0xffe},
		{word: "connected", selected: 0xffe &^ (1<<Listen | 1<<Close)},
		{word: "synchronized", selected: 0xffe &^ (1<<Listen | 1<<Close | 1<<SynSent)},
		{word: "bucket", selected: 1<<SynRecv | 1<<TimeWait},
		{word: "big", selected: 0xffe &^ (1<<SynRecv | 1<<TimeWait)},
		{word: "big,listen", selected: 0xffe &^ (1<<SynRecv | 1<<TimeWait), name: 1 << Listen},
		{word: "bogus", err: `unknown state "bogus"`},
		{word: "established,", err: `unknown state ""`},
		{word: "estab", err: `unknown state "estab"`},
	}
	for _, tt := range tests {
		sel, named, err := ParseStates(tt.word)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseStates(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || sel != tt.selected || named != tt.name {
			t.Errorf("ParseStates(%q) = %#x, %#x, %v; want %#x, %#x", tt.word, sel, named, err, tt.selected, tt.name)
		}
	}
}

func TestStateNames(t *testing.T) {
	for _, s := range AllStates.States() {
		sel, _, err := ParseStates(s.String())
		if err != nil || sel != 1<<s {
			t.Errorf("state %d: name %q does not parse back", s, s)
		}
		if s.Label() == "" || strings.ToUpper(s.Label()) != s.Label() {
			t.Errorf("state %d: label %q", s, s.Label())
		}
	}
	if got := len(AllStates.States()); got != 11 {
		t.Errorf("AllStates has %d states, want 11", got)
	}
}

func fakeServices(t *testing.T) ServiceLookup {
	t.Helper()
	path := filepath.Join(t.TempDir(), "services")
	err := os.WriteFile(path, []byte("# comment\npostgresql\t5432/tcp\tpostgres\t# PostgreSQL\nsyslog\t514/udp\nhttp 80/tcp www # web\nbroken\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return Services(path, []Protocol{TCP})
}

func TestParsePorts(t *testing.T) {
	services := fakeServices(t)
	tests := []struct {
		word string
		want []PortRange
		err  string
	}{
		{word: "22", want: []PortRange{{22, 22}}},
		{word: "0", want: []PortRange{{0, 0}}},
		{word: "65535", want: []PortRange{{65535, 65535}}},
		{word: "1000-2000", want: []PortRange{{1000, 2000}}},
		{word: "22,80-90, postgresql", want: []PortRange{{22, 22}, {80, 90}, {5432, 5432}}},
		{word: "Postgres", want: []PortRange{{5432, 5432}}},
		{word: "www", want: []PortRange{{80, 80}}},
		{word: "70000", err: "out of range"},
		{word: "9-2", err: "runs backwards"},
		{word: "syslog", err: `service "syslog" has no tcp port in `}, // udp only
		{word: "dcd", err: `unknown service "dcd" (not in `},
		{word: "", err: "empty port"},
		{word: "80,", err: "empty port"},
		{word: "-5", err: "not a port"},
		{word: "1-2-3", err: "not a port"},
		{word: "a b", err: "not a port"},
	}
	for _, tt := range tests {
		got, err := ParsePorts(tt.word, services)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePorts(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", tt.word, got, err, tt.want)
		}
	}
}

func TestServicesMissingFile(t *testing.T) {
	lookup := Services(filepath.Join(t.TempDir(), "none"), []Protocol{TCP})
	if _, err := lookup("http"); err == nil || !strings.Contains(err.Error(), "give the port number") {
		t.Fatalf("error %v", err)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		word, want, err string
	}{
		{word: "192.0.2.1", want: "192.0.2.1/32"},
		{word: "192.0.2.77/24", want: "192.0.2.0/24"},
		{word: "2001:db8::1", want: "2001:db8::1/128"},
		{word: "2001:db8::/64", want: "2001:db8::/64"},
		{word: "192.0.2.1/33", err: "not a valid CIDR prefix"},
		{word: "999.1.1.1", err: "not a valid IP address"},
		{word: "fe80::1%eth0", err: "not a valid IP address"},
	}
	for _, tt := range tests {
		got, err := ParsePrefix(tt.word)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePrefix(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tt.word, got, err, tt.want)
		}
	}
}

func TestParsePeer(t *testing.T) {
	services := fakeServices(t)
	resolve := func(host string) ([]netip.Addr, error) {
		switch host {
		case "db1":
			return []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")}, nil
		case "empty":
			return nil, nil
		}
		return nil, errors.New("no such host")
	}
	ep := func(p string, ports ...PortRange) Endpoint {
		return Endpoint{Prefix: netip.MustParsePrefix(p), Ports: ports}
	}
	tests := []struct {
		word string
		want []Endpoint
		err  string
	}{
		{word: "192.168.2.34", want: []Endpoint{ep("192.168.2.34/32")}},
		{word: "192.0.2.0/24", want: []Endpoint{ep("192.0.2.0/24")}},
		{word: "192.0.2.2:40001", want: []Endpoint{ep("192.0.2.2/32", PortRange{40001, 40001})}},
		{word: "192.0.2.2:postgresql", want: []Endpoint{ep("192.0.2.2/32", PortRange{5432, 5432})}},
		{word: "192.0.2.0/24:1000-2000", want: []Endpoint{ep("192.0.2.0/24", PortRange{1000, 2000})}},
		{word: "2001:db8::2", want: []Endpoint{ep("2001:db8::2/128")}},
		{word: "[2001:db8::2]:443", want: []Endpoint{ep("2001:db8::2/128", PortRange{443, 443})}},
		{word: "[2001:db8::2]", want: []Endpoint{ep("2001:db8::2/128")}},
		{word: "2001:db8::/64", want: []Endpoint{ep("2001:db8::/64")}},
		{word: "db1", want: []Endpoint{ep("192.0.2.2/32"), ep("2001:db8::2/128")}},
		{word: "db1:5432", want: []Endpoint{ep("192.0.2.2/32", PortRange{5432, 5432}), ep("2001:db8::2/128", PortRange{5432, 5432})}},
		{word: "999.1.1.1", err: "not a valid IP address"},
		{word: "192.0.2.2:", err: "empty port"},
		{word: "192.0.2.2:99999", err: "out of range"},
		{word: "[2001:db8::2]:", err: "empty port"},
		{word: "[2001:db8::2", err: "no closing bracket"},
		{word: "[192.0.2.2]:80", err: "not a valid IPv6 address"},
		{word: "[2001:db8::2]80", err: "after ] comes :PORT"},
		{word: "2001:db8::zz", err: "not a valid IP address"},
		{word: "nosuch", err: "no such host"},
		{word: "empty", err: "has no addresses"},
		{word: "bad host!", err: "neither an IP address"},
		{word: "", err: "neither an IP address"},
	}
	for _, tt := range tests {
		got, err := ParsePeer(tt.word, services, resolve)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePeer(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePeer(%q) = %v, %v; want %v", tt.word, got, err, tt.want)
		}
	}
}

func TestHasSelector(t *testing.T) {
	for _, tt := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, false},
		{Filter{Protocols: []Protocol{UDP}, Families: []Family{IPv6}}, false},
		{Filter{States: AllStates}, false},
		{Filter{States: Big}, true}, // leaves out time_wait and syn_recv
		{Filter{States: 1 << TimeWait}, true},
		{Filter{States: Connected}, true}, // leaves out time_wait
		{Filter{Protocols: []Protocol{UDP}, States: 1 << Established}, false},
		{Filter{Protocols: []Protocol{TCP, UDP}, States: 1 << Established}, true},
		{Filter{Ports: []PortRange{{80, 80}}}, true},
		{Filter{Interface: &Interface{Name: "lo"}}, true},
	} {
		if got := tt.f.HasSelector(); got != tt.want {
			t.Errorf("%+v: HasSelector %v, want %v", tt.f, got, tt.want)
		}
	}
}
