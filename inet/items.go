package inet

import "strings"

// Items are the values of an option that takes lists, each word split on
// commas ("--pid 1,2 --pid 3") and each item trimmed of spaces
// ("192.0.2.1, 192.0.2.2"); an item of spaces only is empty, for its parser
// to refuse.
func Items(words []string) []string {
	var out []string
	for _, w := range words {
		for item := range strings.SplitSeq(w, ",") {
			out = append(out, strings.TrimSpace(item))
		}
	}
	return out
}
