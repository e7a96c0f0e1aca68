package render

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/census"
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
