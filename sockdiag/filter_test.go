package sockdiag

import (
	"testing"
)

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
