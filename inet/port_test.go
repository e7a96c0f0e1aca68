package inet

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"22", "1000-2000", "http,5432", "9-2", "70000", "-", "1-", "a-b"} {
		f.Add(s)
	}
	lookup := func(string) (uint16, error) { return 80, nil }
	f.Fuzz(func(t *testing.T, word string) {
		rs, err := ParsePorts(word, lookup)
		for _, r := range rs {
			if err == nil && r.Lo > r.Hi {
				t.Fatalf("%q: backwards range %v", word, r)
			}
		}
	})
}

// fakeServices is a services database of three names; host's tests hold
// the real one's answers (a UDP-only service asked for TCP, a name it does
// not have).
func fakeServices(t *testing.T) ServiceLookup {
	t.Helper()
	ports := map[string]uint16{"postgresql": 5432, "postgres": 5432, "http": 80, "www": 80}
	return func(name string) (uint16, error) {
		if p, ok := ports[strings.ToLower(name)]; ok {
			return p, nil
		}
		return 0, fmt.Errorf("unknown service %q; give the port number", name)
	}
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
		{word: "dcd", err: `unknown service "dcd"`},
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
