package tcpreap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// readmeLines is how long README.md may be: what tcpreap is, the two
// commands, install, examples, exit codes and links; the rest is in docs/.
const readmeLines = 250

// TestDocsREADMELength: the README stays a first page, not the manual.
func TestDocsREADMELength(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > readmeLines {
		t.Errorf("README.md has %d lines, more than %d: move the detail to docs/", n, readmeLines)
	}
}

// TestDocsSpeakOfTheToolAlone: the README and docs/*.md speak of tcpreap as it
// is, never of how it came to be: no issue numbers, no sessions (an SSH
// session is the tool's own word), no design document, no commit ids.
func TestDocsSpeakOfTheToolAlone(t *testing.T) {
	for _, file := range docFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, word := range historyWords(line) {
				t.Errorf("%s:%d: %q speaks of the project's history: %s", file, i+1, word, strings.TrimSpace(line))
			}
		}
	}
}

var (
	issueNumber = regexp.MustCompile(`(?i)\b(issues?|tickets?|PRs?|pull requests?)\s*#?\d+`)
	design      = regexp.MustCompile(`(?i)\bdesign\b`)
	session     = regexp.MustCompile(`(?i)\bsessions?\b`)
	// A session the docs may name: an SSH session, a login's, and the plan
	// file's reason code and the names of OpenSSH's processes and types.
	sshSession = regexp.MustCompile("(?i)(ssh|login|`|-)\\s*sessions?\\b|\\bsessions?`|\\bsession (guard|tcpreap|it)\\b")
	hexWord    = regexp.MustCompile(`\b[0-9a-f]{7,40}\b`)
)

// historyWords returns the words of line that speak of the project's history.
func historyWords(line string) []string {
	var found []string
	found = append(found, issueNumber.FindAllString(line, -1)...)
	found = append(found, design.FindAllString(line, -1)...)
	for _, loc := range session.FindAllStringIndex(line, -1) {
		if !coveredBy(sshSession, line, loc) {
			found = append(found, line[loc[0]:loc[1]])
		}
	}
	// A commit id: hexadecimal, 7 to 40 digits, with a letter and a digit
	// (a decimal cookie or inode has no letter, a word no digit).
	for _, w := range hexWord.FindAllString(line, -1) {
		if strings.ContainsAny(w, "abcdef") && strings.ContainsAny(w, "0123456789") {
			found = append(found, w)
		}
	}
	return found
}

// coveredBy reports whether a match of re in line contains loc.
func coveredBy(re *regexp.Regexp, line string, loc []int) bool {
	for _, m := range re.FindAllStringIndex(line, -1) {
		if m[0] <= loc[0] && loc[1] <= m[1] {
			return true
		}
	}
	return false
}

// TestDocsHistoryWords: the checker finds what it must and passes what the
// tool itself says.
func TestDocsHistoryWords(t *testing.T) {
	for _, bad := range []string{"issue 8's targets", "the table of 53d6b2a", "before this session's work",
		"Choices where the design is silent", "see issue #12", "the binary of 8adff6f"} {
		if len(historyWords(bad)) == 0 {
			t.Errorf("%q: not caught", bad)
		}
	}
	for _, good := range []string{"cut the SSH session you run it in", "the reason code `session`",
		"OpenSSH's `sshd-session`", "cookie 21729358", "an SSH login session", "the session guard",
		"net:[4026532239]", "2001:db8::2", "sha256:5e7ac5fd01cc67f7bf256511536dba72c3f053d45399735fc049d2c87c06b860"} {
		if w := historyWords(good); len(w) > 0 {
			t.Errorf("%q: caught %q", good, w)
		}
	}
}

// TestDocsLinks: every relative link of the README and docs/*.md names a
// file that exists, and a #fragment names a heading of it (as GitHub makes
// anchors of headings).
func TestDocsLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, file := range docFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, fragment, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			text, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s: the link %s names no file: %v", file, target, err)
				continue
			}
			if fragment != "" && !anchors(string(text))[fragment] {
				t.Errorf("%s: the link %s names no heading of %s", file, target, dest)
			}
		}
	}
}

// docFiles are the README and every page under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md")
	}
	return append([]string{"README.md"}, files...)
}

// anchors are the fragments GitHub gives the headings of a Markdown text:
// lower case, spaces as hyphens, punctuation but hyphens and underscores
// dropped, outside code blocks.
func anchors(text string) map[string]bool {
	found := map[string]bool{}
	code := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			code = !code
		}
		if code || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		found[b.String()] = true
	}
	return found
}
