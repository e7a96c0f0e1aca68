package render

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable escapes what a terminal would act on rather than show: control
// characters, invalid UTF-8, and the invisible formatting runes (bidi
// overrides) that make text read other than it is. Every string that comes
// from a file, the kernel or the command line goes through it before it is
// printed in a table or on stderr, so that none can erase lines or move the
// cursor. (--json needs none: its encoder escapes them.)
func Printable(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || strconv.IsPrint(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
