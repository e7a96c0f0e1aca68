package watch

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestGauges: beyond the top, ports, processes and destinations are one
// "other" series each, and no socket is lost or counted twice.
func TestGauges(t *testing.T) {
	port := func(p uint16) inet.PortRange { return inet.PortRange{Lo: p, Hi: p} }
	c := &census.Census{
		Sockets: 10,
		Cells: []census.Cell{
			{State: sockdiag.CloseWait, Ports: port(8080), Command: "java", Sockets: 4},
			{State: sockdiag.Established, Ports: port(5432), Command: "postgres", Sockets: 3},
			{State: sockdiag.Established, Ports: port(22), Command: "sshd", Sockets: 1},
			{State: sockdiag.TimeWait, Ports: inet.PortRange{Lo: 32768, Hi: 60999}, Sockets: 2},
		},
		CloseWait: []census.Holder{{PID: 1, Command: "java", CloseWait: 4, OldestIdle: 90 * time.Second}, {PID: 2, Command: "python3", CloseWait: 1, OldestIdle: time.Hour}},
		TimeWait: []census.DestinationCount{
			{Destination: netip.MustParseAddrPort("192.0.2.2:443"), Sockets: 5},
			{Destination: netip.MustParseAddrPort("192.0.2.3:443"), Sockets: 2},
			{Destination: netip.MustParseAddrPort("192.0.2.4:443"), Sockets: 1},
		},
	}
	got := map[string]float64{}
	for _, m := range gauges([]spaceCensus{{netns: "ns1", census: c, ephemeral: [2]uint16{32768, 60999}}}, 1, time.Unix(100, 0)) {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		key := name(m)
		for _, l := range d.Label {
			key += "," + l.GetName() + "=" + l.GetValue()
		}
		got[key] = d.GetGauge().GetValue()
	}
	for key, want := range map[string]float64{
		"tcpreap_sockets,local_port=8080,netns=ns1,process=java,state=close_wait":    4,
		"tcpreap_sockets,local_port=other,netns=ns1,process=other,state=established": 4,
		"tcpreap_sockets,local_port=other,netns=ns1,process=-,state=time_wait":       2,
		"tcpreap_close_wait_oldest_idle_seconds,netns=ns1,process=java":              90,
		"tcpreap_close_wait_oldest_idle_seconds,netns=ns1,process=other":             3600,
		"tcpreap_time_wait_sockets,destination=192.0.2.2:443,netns=ns1":              5,
		"tcpreap_time_wait_sockets,destination=other,netns=ns1":                      3,
		"tcpreap_local_port_range_size,netns=ns1":                                    28232,
		"tcpreap_census_sockets,netns=ns1":                                           10,
		"tcpreap_census_timestamp_seconds":                                           100,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if len(got) != 10 {
		t.Errorf("%d series, want 10: %v", len(got), got)
	}
}

func name(m prometheus.Metric) string {
	_, after, _ := strings.Cut(m.Desc().String(), `fqName: "`) // Desc{fqName: "name", …}
	n, _, _ := strings.Cut(after, `"`)
	return n
}
