// Package peerword tells the words a person types as PEERs that are more
// likely mistakes than host names (a command's typo, a command tcpreap has
// as an option, a word of ss's filters, a state), and what a PEER that does
// not parse was most likely meant to be. A host name must not widen a
// destroy because it was a typo that happened to resolve. It takes a
// link-local PEER's interface off the word (Scope), and notes an address
// that may have been meant with a port (PortLike).
package peerword

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// commandNames are the commands a PEER word may be a typo of.
var commandNames = []string{"list", "ls", "plan", "apply", "conntrack"}

// guessedCommands are commands a person may try that tcpreap has as
// options, with what to type instead.
var guessedCommands = map[string]string{
	"help":    "tcpreap --help",
	"version": "tcpreap --version",
	// tcpreap destroys by default; these would name what it does.
	"kill": "tcpreap PEER (it destroys by default)", "reap": "tcpreap PEER (it destroys by default)",
	"destroy": "tcpreap PEER (it destroys by default)", "cut": "tcpreap PEER (it destroys by default)",
	"drop": "tcpreap PEER (it destroys by default)",
	"rm":   "tcpreap PEER (it destroys by default)", "remove": "tcpreap PEER (it destroys by default)",
	"delete": "tcpreap PEER (it destroys by default)",
	"show":   "tcpreap list", "get": "tcpreap list", "status": "tcpreap list", "dump": "tcpreap list",
	"run": "tcpreap apply PLAN-FILE", "exec": "tcpreap apply PLAN-FILE",
}

// ssKeywords are the words of ss's filter language, and what tcpreap takes
// instead.
var ssKeywords = map[string]string{
	"state": "--state STATE", "dst": "the peer itself (tcpreap 192.0.2.2), or --dport",
	"src": "--local ADDR or --sport", "sport": "--sport PORT", "dport": "--dport PORT",
	"dev": "--interface IF", "exclude": "a narrower selection", "excl": "a narrower selection",
	"and": "several options (all must hold)", "or": "several values of one option",
	"not": "a narrower selection", "autobound": "--state",
}

// Check refuses a PEER word that would be looked up as a host name
// but is more likely a mistake: a typo of a command, a command tcpreap does
// not have, a word of ss's filter language, a state. A host name must not
// widen a destroy because it was a typo that happened to resolve.
func Check(name string) error {
	w := strings.ToLower(name)
	if instead, ok := guessedCommands[w]; ok {
		return fmt.Errorf("%q is not a command nor a peer: did you mean %s?", name, instead)
	}
	if instead, ok := ssKeywords[w]; ok {
		return fmt.Errorf("%q is a word of ss's filters, not a peer: tcpreap takes %s", name, instead)
	}
	if _, err := sockdiag.ParseStates(w); err == nil {
		return fmt.Errorf("%q is a state, not a peer: did you mean --state %s?", name, w)
	}
	for _, c := range commandNames {
		// One edit catches the typos (lsit, aply, lst) without taking
		// short host names for commands (db, ks, app, test, host).
		if w == c || len(w) >= 3 && editDistance(w, c) <= 1 {
			return fmt.Errorf("%q is not a command nor a peer: did you mean tcpreap %s? (options go after it)", name, c)
		}
	}
	return nil
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Hint returns what a person most likely meant by a PEER word that does
// not parse, or "".
func Hint(word string) string {
	switch {
	case strings.HasPrefix(word, ":") && len(word) > 1:
		return fmt.Sprintf("for a port on either end, give --port %s", word[1:])
	case strings.Contains(word, "%") && isIPv4(word[:strings.IndexByte(word, '%')]):
		addr, zone, _ := strings.Cut(word, "%")
		zone, port, _ := strings.Cut(zone, ":")
		if port != "" {
			addr += ":" + port
		}
		return fmt.Sprintf("an interface (%%%s) goes with an IPv6 link-local address; for an IPv4 peer give %s --interface %s", zone, addr, zone)
	case strings.Contains(word, ","):
		return fmt.Sprintf("give several peers with spaces, not commas: tcpreap %s", strings.ReplaceAll(word, ",", " "))
	case strings.Count(word, ":") >= 2 && !strings.HasPrefix(word, "["):
		i := strings.LastIndexByte(word, ':')
		if addr, err := netip.ParseAddr(word[:i]); err == nil && addr.Is6() {
			if _, err := strconv.ParseUint(word[i+1:], 10, 16); err == nil {
				return fmt.Sprintf("an IPv6 peer with a port is written [%s]:%s", word[:i], word[i+1:])
			}
		}
	}
	return ""
}

// Parse reads the PEER words of sockets and conntrack entries alike: host
// names are checked for mistakes (Check), then resolved all at once, and
// the notes say what each resolved to. An error says what the person most
// likely meant (Hint).
func Parse(ctx context.Context, words []string, services inet.ServiceLookup) ([]inet.Endpoint, []string, error) {
	var notes []string
	peers, err := inet.ParsePeers(words, services, func(names []string) (map[string][]netip.Addr, error) {
		for _, name := range names {
			if err := Check(name); err != nil {
				return nil, err
			}
		}
		addrs, err := host.ResolveAll(ctx, names)
		for _, name := range names {
			if len(addrs[name]) > 0 {
				notes = append(notes, fmt.Sprintf("peer %s is %s", name, joinAddrs(addrs[name])))
			}
		}
		return addrs, err
	})
	if err == nil {
		return peers, notes, nil
	}
	for _, w := range words {
		_, perr := inet.ParsePeer(w, services, func(string) ([]netip.Addr, error) { return []netip.Addr{netip.IPv6Loopback()}, nil })
		if hint := Hint(w); perr != nil && hint != "" {
			return nil, nil, fmt.Errorf("%w; %s", err, hint)
		}
	}
	return nil, nil, err
}

// Services looks service names up in the services database for the
// selected protocols (TCP when none is); a UDP service asked for TCP says to
// add -u.
func Services(protocols []inet.Protocol) inet.ServiceLookup {
	names := []string{inet.TCP.String()}
	if len(protocols) > 0 {
		names = names[:0]
		for _, p := range protocols {
			names = append(names, p.String())
		}
	}
	db := host.NewServices(host.ServicesFile)
	return func(name string) (uint16, error) {
		port, err := db.Port(name, names...)
		if err != nil && !slices.Contains(names, "udp") {
			if _, uerr := db.Port(name, "udp"); uerr == nil {
				err = fmt.Errorf("%w; it is a UDP service: add -u", err)
			}
		}
		return port, err
	}
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}

// A Zoned is the PEER word that named an interface, and that interface.
type Zoned struct{ Word, Interface string }

// Scope takes the interface off the PEER words that name one, as a
// link-local address is written (fe80::1%eth0, [fe80::1%eth0]:22, and
// [fe80::1]%eth0:22 as tcpreap's table shows a scoped socket): such an
// address is on every link, and the peer is the one on that interface. It
// returns the words without it, and the interface, which is the whole
// selection's (as --interface is): every PEER must then name the same one,
// the same as iface (--interface, or ""), and not over every namespace
// (allNetns).
func Scope(words []string, iface string, allNetns bool) ([]string, Zoned, error) {
	out := make([]string, len(words))
	var zoned Zoned
	var plain string // a PEER that names no interface
	for i, w := range words {
		var zone string
		out[i], zone = splitZone(w)
		switch {
		case zone == twoZones:
			return nil, Zoned{}, fmt.Errorf("peer %s names two interfaces; write it [ADDR%%IF]:PORT or [ADDR]%%IF:PORT", w)
		case strings.Contains(zone, ":"):
			// An interface's name has no colon: fe80::1%eth0:22 meant a port.
			z, port, _ := strings.Cut(zone, ":")
			if port == "" || strings.HasPrefix(w, "[") {
				return nil, Zoned{}, fmt.Errorf("peer %s: an interface's name has no colon", w)
			}
			return nil, Zoned{}, fmt.Errorf("peer %s: an interface's name has no colon; an IPv6 peer with its interface and a port is written [%s%%%s]:%s", w, out[i], z, port)
		case zone == "":
			plain = w
		case zoned.Word == "":
			zoned = Zoned{w, zone}
		case zone != zoned.Interface:
			return nil, Zoned{}, fmt.Errorf("peers %s and %s are on different interfaces (%s, %s); give each its own run", zoned.Word, w, zoned.Interface, zone)
		}
	}
	switch {
	case zoned.Word == "":
	case plain != "":
		return nil, Zoned{}, fmt.Errorf("peer %s is on interface %s, which then holds for the whole selection, and peer %s names none; give it a run of its own", zoned.Word, zoned.Interface, plain)
	case iface != "" && iface != zoned.Interface:
		return nil, Zoned{}, fmt.Errorf("peer %s is on interface %s, and --interface is %s; give one of them", zoned.Word, zoned.Interface, iface)
	case allNetns:
		return nil, Zoned{}, fmt.Errorf("peer %s names an interface of one network namespace; give it with --netns, not --all-netns", zoned.Word)
	}
	return out, zoned, nil
}

// twoZones is splitZone's interface for a word that names one inside its
// brackets and another after them ([fe80::1%eth0]%eth1:22).
const twoZones = "%"

// splitZone is a PEER word without the interface of its IPv6 address, and
// that interface; the word as it is, and "", when it names none.
func splitZone(w string) (string, string) {
	addr, zone, rest := w, "", ""
	if inside, after, ok := strings.Cut(strings.TrimPrefix(w, "["), "]"); ok && strings.HasPrefix(w, "[") {
		addr, rest = inside, after
		if z, ok := strings.CutPrefix(rest, "%"); ok {
			// [fe80::1]%eth0:22: an interface's name has no colon.
			zone, rest, _ = strings.Cut(z, ":")
			if strings.Contains(z, ":") {
				rest = ":" + rest
			}
		}
	}
	if a, z, ok := strings.Cut(addr, "%"); ok {
		if zone != "" {
			return w, twoZones
		}
		addr, zone = a, z
	}
	if ip, err := netip.ParseAddr(addr); err != nil || !ip.Is6() || zone == "" {
		return w, ""
	}
	if strings.HasPrefix(w, "[") {
		return "[" + addr + "]" + rest, zone
	}
	return addr, zone
}

// PortLike says of each PEER word that is an IPv6 address whose last group
// reads as a port (2001:db8::2:5432) how to write the port, for a
// selection that matched nothing: the address it was read as may not be
// the one meant.
func PortLike(words []string) []string {
	var notes []string
	for _, w := range words {
		i := strings.LastIndexByte(w, ':')
		if strings.ContainsAny(w, "[/%") || i < 0 || !isPort(w[i+1:]) {
			continue
		}
		whole, err1 := netip.ParseAddr(w)
		addr, err2 := netip.ParseAddr(w[:i])
		if err1 == nil && err2 == nil && addr.Is6() && !addr.IsUnspecified() && !whole.Is4In6() {
			notes = append(notes, fmt.Sprintf("note: %s was read as an address; for a port write [%s]:%s", w, w[:i], w[i+1:]))
		}
	}
	return notes
}

// isIPv4 reports whether s is an IPv4 address.
func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// isPort: a port number, 1 to 65535, in decimal.
func isPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n > 0 && s[0] != '0'
}
