package flows

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

func flow(proto inet.Protocol, orig, reply string) Flow {
	f := Flow{Family: inet.IPv4, Protocol: proto, Status: SeenReply | Assured | Confirmed}
	if proto == inet.TCP {
		f.State = Est
	}
	o := [2]netip.AddrPort{}
	r := [2]netip.AddrPort{}
	for i, s := range splitArrow(orig) {
		o[i] = netip.MustParseAddrPort(s)
	}
	for i, s := range splitArrow(reply) {
		r[i] = netip.MustParseAddrPort(s)
	}
	f.Orig, f.Reply = Tuple{o[0], o[1]}, Tuple{r[0], r[1]}
	return f
}

func splitArrow(s string) [2]string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '>' {
			return [2]string{s[:i], s[i+1:]}
		}
	}
	panic(s)
}

func TestFilterMatch(t *testing.T) {
	dnat := flow(inet.TCP, "198.51.100.2:40000>198.51.100.1:8080", "192.0.2.2:80>192.0.2.1:40000")
	dnat.Status |= DstNAT | SrcNAT
	udp := flow(inet.UDP, "198.51.100.2:5000>192.0.2.3:53", "192.0.2.3:53>192.0.2.1:5000")
	udp.Status = Confirmed // unreplied
	marked := flow(inet.TCP, "198.51.100.9:1>192.0.2.3:81", "192.0.2.3:81>198.51.100.9:1")
	marked.Mark, marked.Zone, marked.State = 0x1234, 7, TimeWait
	zone7 := uint16(7)
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	for _, c := range []struct {
		name string
		f    Filter
		want []Flow
	}{
		{"zero filter: TCP", Filter{}, []Flow{dnat, marked}},
		{"-u", Filter{Protocols: []inet.Protocol{inet.UDP}}, []Flow{udp}},
		{"-6", Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, Families: []inet.Family{inet.IPv6}}, nil},
		{"peer as source", Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, Peers: []inet.Endpoint{{Prefix: p("198.51.100.2/32")}}}, []Flow{dnat, udp}},
		{"peer as destination", Filter{Peers: []inet.Endpoint{{Prefix: p("192.0.2.3/32")}}}, []Flow{marked}},
		{"peer with port", Filter{Peers: []inet.Endpoint{{Prefix: p("198.51.100.0/24"), Ports: []inet.PortRange{{Lo: 8080, Hi: 8080}}}}}, []Flow{dnat}},
		{"reply source is no peer", Filter{Peers: []inet.Endpoint{{Prefix: p("192.0.2.2/32")}}}, nil},
		{"--port either end", Filter{Ports: []inet.PortRange{{Lo: 40000, Hi: 40000}}}, []Flow{dnat}},
		{"--reply-src", Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, ReplySrc: []netip.Prefix{p("192.0.2.2/32")}}, []Flow{dnat}},
		{"--state time_wait", Filter{States: 1 << TimeWait}, []Flow{marked}},
		{"--state never UDP", Filter{Protocols: []inet.Protocol{inet.UDP}, States: AllTCPStates}, nil},
		{"--status unreplied", Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, Statuses: []StatusWant{WantUnreplied}}, []Flow{udp}},
		{"--status assured", Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, Statuses: []StatusWant{WantAssured}}, []Flow{dnat, marked}},
		{"--zone", Filter{Zone: &zone7}, []Flow{marked}},
		{"--mark value/mask", Filter{Mark: &MarkMask{0x34, 0xff}}, []Flow{marked}},
		{"--mark value", Filter{Mark: &MarkMask{0x34, ^uint32(0)}}, nil},
		{"all must hold", Filter{Zone: &zone7, Peers: []inet.Endpoint{{Prefix: p("198.51.100.2/32")}}}, nil},
	} {
		var got []Flow
		for _, fl := range []Flow{dnat, udp, marked} {
			if c.f.Match(&fl) {
				got = append(got, fl)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
			}
		}
	}
}

func TestHasSelector(t *testing.T) {
	if (&Filter{Protocols: []inet.Protocol{inet.UDP}, Families: []inet.Family{inet.IPv4}}).HasSelector() {
		t.Error("protocol and family alone are a selector")
	}
	zero := uint16(0)
	if !(&Filter{Zone: &zero}).HasSelector() {
		t.Error("--zone 0 is no selector")
	}
	peer := func(prefix string, ports ...inet.PortRange) inet.Endpoint {
		return inet.Endpoint{Prefix: netip.MustParsePrefix(prefix), Ports: ports}
	}
	prefixes := func(words ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, w := range words {
			ps = append(ps, netip.MustParsePrefix(w))
		}
		return ps
	}
	ipv4, ipv6 := []inet.Family{inet.IPv4}, []inet.Family{inet.IPv6}
	for name, f := range map[string]Filter{
		"--state all":                       {States: AllTCPStates},
		"--mark 0/0":                        {Mark: &MarkMask{0, 0}},
		"--port 0-65535":                    {Ports: []inet.PortRange{{Lo: 0, Hi: 65535}}},
		"--port 1-32767 --port 32768-65535": {Ports: []inet.PortRange{{Lo: 1, Hi: 32767}, {Lo: 32768, Hi: 65535}}},
		"0.0.0.0/0 ::/0":                    {Peers: []inet.Endpoint{peer("0.0.0.0/0"), peer("::/0")}},
		"::ffff:0.0.0.0/96 ::/0":            {Peers: []inet.Endpoint{peer("::ffff:0.0.0.0/96"), peer("::/0")}},
		"-4 ::ffff:0.0.0.0/96":              {Families: ipv4, Peers: []inet.Endpoint{peer("::ffff:0.0.0.0/96")}},
		"0.0.0.0/0 ::/0 192.0.2.2:80":       {Peers: []inet.Endpoint{peer("0.0.0.0/0"), peer("::/0"), peer("192.0.2.2/32", inet.PortRange{Lo: 80, Hi: 80})}},
		"0.0.0.0/0:1-32767 0.0.0.0/0:32768-65535 ::/0": {Peers: []inet.Endpoint{
			peer("0.0.0.0/0", inet.PortRange{Lo: 1, Hi: 32767}), peer("0.0.0.0/0", inet.PortRange{Lo: 32768, Hi: 65535}), peer("::/0")}},
		"--reply-src 0.0.0.0/0 --reply-src ::/0": {ReplySrc: prefixes("0.0.0.0/0", "::/0")},
		"-6 --reply-src ::/0":                    {Families: ipv6, ReplySrc: prefixes("::/0")},
	} {
		if f.HasSelector() {
			t.Errorf("%s selects everything, yet is a selector", name)
		}
	}
	for name, f := range map[string]Filter{
		"--state established":   {States: 1 << Est},
		"--mark 0/1":            {Mark: &MarkMask{0, 1}},
		"--port 1-65534":        {Ports: []inet.PortRange{{Lo: 1, Hi: 65534}}},
		"0.0.0.0/0":             {Peers: []inet.Endpoint{peer("0.0.0.0/0")}},
		"::ffff:0.0.0.0/96":     {Peers: []inet.Endpoint{peer("::ffff:0.0.0.0/96")}},
		"-4 ::/0":               {Families: ipv4, Peers: []inet.Endpoint{peer("::/0")}},
		"--reply-src 0.0.0.0/0": {ReplySrc: prefixes("0.0.0.0/0")},
	} {
		if !f.HasSelector() {
			t.Errorf("%s is no selector", name)
		}
	}
}

func TestParseMark(t *testing.T) {
	for word, want := range map[string]MarkMask{
		"16": {16, ^uint32(0)}, "0x10/0xff": {0x10, 0xff}, "0X10/0XF0": {0x10, 0xf0}, "0/0": {0, 0}, "4294967295": {^uint32(0), ^uint32(0)},
	} {
		if got, err := ParseMark(word); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", word, got, err, want)
		}
	}
	for _, word := range []string{"", "x", "0x", "-1", "4294967296", "0x10/", "0x10/0x0f", "1/2/3", "0x1g"} {
		if got, err := ParseMark(word); err == nil {
			t.Errorf("%q: %+v, want an error", word, got)
		}
	}
}

func TestParseZone(t *testing.T) {
	if z, err := ParseZone("65535"); err != nil || z != 65535 {
		t.Errorf("65535: %d, %v", z, err)
	}
	for _, w := range []string{"", "-1", "65536", "0x10"} {
		if _, err := ParseZone(w); err == nil {
			t.Errorf("zone %q: no error", w)
		}
	}
}

// TestKernelFilter: what goes into the dump request; two status words are alternatives,
// which CTA_STATUS/CTA_STATUS_MASK cannot say, so neither goes.
func TestKernelFilter(t *testing.T) {
	k := (&Filter{Statuses: []StatusWant{WantUnreplied}}).kernel()
	if k.status != 0 || k.statusMask != SeenReply {
		t.Errorf("unreplied: %+v", k)
	}
	k = (&Filter{Statuses: []StatusWant{WantAssured}}).kernel()
	if k.status != Assured || k.statusMask != Assured {
		t.Errorf("assured: %+v", k)
	}
	if k = (&Filter{Statuses: []StatusWant{WantAssured, WantUnreplied}}).kernel(); k.statusMask != 0 {
		t.Errorf("both: %+v", k)
	}
	if f := (&Filter{Families: []inet.Family{inet.IPv4, inet.IPv6}}); f.dumpFamily() != 0 {
		t.Error("two families dump as one")
	}
}
