package render

import (
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// displayWidth is how many terminal columns s takes: a wide (East Asian)
// character two, a combining mark none, as a terminal draws them. An ASCII
// cell, nearly every one, costs one pass and no allocation.
func displayWidth[T string | []byte](s T) int {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return uniseg.StringWidth(string(s))
		}
	}
	return len(s)
}

// padTo returns s followed by the spaces that make it width columns wide.
func padTo(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-displayWidth(s)))
}
