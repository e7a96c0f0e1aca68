package render

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/inet"
)

// TestCensusWideNames: a command name of wide (CJK) characters takes
// two columns each, and the counts still line up in one column.
func TestCensusWideNames(t *testing.T) {
	c := &census.Census{Sockets: 12, Holders: []census.Holder{
		{PID: 4711, Command: "数据库服务", Sockets: 9},
		{PID: 812, Command: "redis-server", Sockets: 2},
		{PID: 9, Command: "café", Sockets: 1},
	}}
	var b strings.Builder
	if err := Census(&b, c, 10); err != nil {
		t.Fatal(err)
	}
	var ends []int // the column where each row's count ends
	for _, line := range strings.Split(b.String(), "\n") {
		if bar := strings.Index(line, "  #"); strings.Contains(line, " pid ") && bar > 0 {
			ends = append(ends, displayWidth(line[:bar]))
		}
	}
	if len(ends) != 3 || ends[0] != ends[1] || ends[1] != ends[2] {
		t.Errorf("the counts end in columns %v, want one column:\n%s", ends, b.String())
	}
}

// TestCensusEphemeralPorts: the ephemeral range is one row of the local
// ports, said as such; its JSON key is the range.
func TestCensusEphemeralPorts(t *testing.T) {
	c := &census.Census{Sockets: 12, LocalPorts: []census.PortCount{
		{Ports: inet.PortRange{Lo: 32768, Hi: 60999}, Sockets: 10}, {Ports: inet.PortRange{Lo: 5432, Hi: 5432}, Sockets: 2}}}
	var b strings.Builder
	if err := Census(&b, c, 10); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  :32768-60999 (ephemeral)        10  ") || !strings.Contains(b.String(), "\n  :5432 ") {
		t.Errorf("local ports:\n%s", b.String())
	}
	var j strings.Builder
	if err := CensusJSON(&j, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"local_ports":[{"key":"32768-60999","sockets":10},{"key":"5432","sockets":2}]`) {
		t.Errorf("JSON: %s", j.String())
	}
}
