package render

import "testing"

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{
		"":             0,
		"redis-server": 12,
		"数据库":          6, // wide: two columns each
		"café":         4,
		"e\u0301":      1, // a combining accent takes no column
		"\\x1b[31m":    8,
		"进程 pid 4711":  13,
	} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
		if got := displayWidth([]byte(s)); got != want {
			t.Errorf("displayWidth([]byte(%q)) = %d, want %d", s, got, want)
		}
	}
	if got := padTo("数据库", 8); got != "数据库  " {
		t.Errorf("padTo = %q", got)
	}
}
