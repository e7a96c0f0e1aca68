package render

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		`unknown state "bogus"`: `unknown state "bogus"`,
		"fe80::1%eth0":          "fe80::1%eth0",
		"a\x1b[2Kb":             `a\x1b[2Kb`,
		"line\nbreak\r":         `line\x0abreak\x0d`,
		"bad \xff byte":         `bad \xff byte`,
		"évident":               "évident",
		"rtl\u202etxt":          `rtl\u202etxt`,
		"tab\there":             `tab\x09here`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
