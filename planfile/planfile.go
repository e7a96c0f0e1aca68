package planfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Version is the version of the format that Write writes and Read reads.
// Version 1 wrote the sockets with the --json output's fields, which lack the
// timer, and had one namespace for the whole file; version 2 could only be
// applied in the namespace it was made in. Both are refused.
const Version = 3

// maxSize bounds a plan file: about 600,000 sockets.
const maxSize = 256 << 20

// A File is a plan, one part per network namespace, and what it was made
// from.
type File struct {
	Header Header
	Parts  []Part
}

// A Part is the plan of one network namespace.
type Part struct {
	Namespace Namespace
	Plan      *kill.Plan
}

// A Namespace says where a part's sockets are: the namespace's identity,
// and how tcpreap reaches it again.
type Namespace struct {
	ID host.NetNS `json:"id"`
	// Reach opens it (host.OpenNetNS): a name, a path or pid:PID; "" for
	// the namespace tcpreap runs in, where the plan must then be applied.
	Reach string `json:"reach"`
}

// NamespaceOf is how a plan file records ns, where here is tcpreap's
// own (a nil ns).
func NamespaceOf(ns *host.Namespace, here host.Identity) Namespace {
	if ns == nil {
		return Namespace{ID: here.NetNS}
	}
	return Namespace{ID: ns.ID, Reach: ns.Reach}
}

// Open opens the namespace of each part, to apply the plan: nil for a part
// of the namespace tcpreap runs in. It refuses a plan whose namespace no
// longer exists, or is another now (a pid reused): nothing in it can be
// destroyed safely. An error for want of permission wraps fs.ErrPermission.
// The caller closes what it returns.
func (f *File) Open() ([]*host.Namespace, error) {
	var open []*host.Namespace
	fail := func(err error) ([]*host.Namespace, error) {
		for _, ns := range open {
			ns.Close()
		}
		return nil, err
	}
	for _, p := range f.Parts {
		if p.Namespace.Reach == "" {
			open = append(open, nil)
			continue
		}
		ns, err := host.OpenNetNS(p.Namespace.Reach)
		if errors.Is(err, fs.ErrPermission) {
			return fail(fmt.Errorf("cannot open its network namespace %s (%s): %w", p.Namespace.Reach, p.Namespace.ID, err))
		}
		if err != nil {
			return fail(fmt.Errorf("its network namespace %s (%s) no longer exists: %v", p.Namespace.Reach, p.Namespace.ID, err))
		}
		open = append(open, ns)
		if ns.ID != p.Namespace.ID {
			return fail(fmt.Errorf("its network namespace %s was %s and is now another, %s: the namespace it was made in no longer exists", p.Namespace.Reach, p.Namespace.ID, ns.ID))
		}
	}
	return open, nil
}

// A Header says where and how a plan was made.
type Header struct {
	Version int       `json:"version"`
	BootID  string    `json:"boot_id"`
	Created time.Time `json:"created"`
	Command []string  `json:"command"`
	// Everything: the plan was made with no selector, and applying it needs
	// the same explicit consent as destroying every socket would.
	Everything bool `json:"everything"`
	// Sockets is how many socket lines follow: a reader knows from the
	// first line how large the file may be.
	Sockets int `json:"sockets"`
	// Namespaces are where the parts are, in order; every socket line
	// names one by its ID.
	Namespaces []Namespace `json:"namespaces"`
}

// headerLine is the first line.
type headerLine struct {
	Plan *Header `json:"plan"`
}

// record is one socket of a plan.
type record struct {
	Proto      string     `json:"proto"`
	Family     string     `json:"family"`
	State      string     `json:"state"`
	Timer      uint8      `json:"timer"`
	Retrans    uint8      `json:"retrans"`
	ExpiresMS  uint32     `json:"expires_ms"`
	RecvQ      uint32     `json:"recv_q"`
	SendQ      uint32     `json:"send_q"`
	LocalIP    netip.Addr `json:"local_ip"`
	LocalPort  uint16     `json:"local_port"`
	RemoteIP   netip.Addr `json:"remote_ip"`
	RemotePort uint16     `json:"remote_port"`
	Interface  uint32     `json:"interface"`
	Cookie     uint64     `json:"cookie"`
	UID        uint32     `json:"uid"`
	Inode      uint32     `json:"inode"`
	NetNS      host.NetNS `json:"netns"`
	Action     string     `json:"action"`           // actionDestroy or actionSkip
	Reason     string     `json:"reason,omitempty"` // a skip's kill.Reason code
}

const (
	actionDestroy = "destroy"
	actionSkip    = "skip"
)

// trailer is the last line.
type trailer struct {
	Summary *counts `json:"summary"`
	Digest  string  `json:"digest"`
}

type counts struct {
	Targets int `json:"targets"`
	Skipped int `json:"skipped"`
}

// Write writes f as a plan file made here: the header's version, boot id,
// counts and namespaces are filled in, Created too when it is zero.
func Write(w io.Writer, f *File, here host.Identity) error {
	hdr := f.Header
	hdr.Version, hdr.BootID = Version, here.BootID
	hdr.Sockets, hdr.Namespaces = 0, make([]Namespace, 0, len(f.Parts))
	seen := map[host.NetNS]bool{}
	for _, p := range f.Parts {
		if seen[p.Namespace.ID] {
			return fmt.Errorf("network namespace %s has two parts in one plan", p.Namespace.ID)
		}
		seen[p.Namespace.ID] = true
		hdr.Sockets += len(p.Plan.Targets) + len(p.Plan.Skipped)
		hdr.Namespaces = append(hdr.Namespaces, p.Namespace)
	}
	if hdr.Created.IsZero() {
		hdr.Created = time.Now().UTC().Truncate(time.Second)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	if err := enc.Encode(headerLine{&hdr}); err != nil {
		return err
	}
	for _, p := range f.Parts {
		for _, s := range p.Plan.Targets {
			if err := enc.Encode(toRecord(s, p.Namespace.ID, kill.NoReason)); err != nil {
				return err
			}
		}
		for _, sk := range p.Plan.Skipped {
			if err := enc.Encode(toRecord(sk.Socket, p.Namespace.ID, sk.Reason)); err != nil {
				return err
			}
		}
	}
	if err := enc.Encode(trailerOf(f.Parts, digest(body.Bytes()))); err != nil {
		return err
	}
	_, err := w.Write(body.Bytes())
	return err
}

func trailerOf(parts []Part, digest string) trailer {
	c := &counts{}
	for _, p := range parts {
		c.Targets += len(p.Plan.Targets)
		c.Skipped += len(p.Plan.Skipped)
	}
	return trailer{Summary: c, Digest: digest}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func toRecord(s sockdiag.Socket, ns host.NetNS, reason kill.Reason) record {
	r := record{
		Proto:      s.Protocol.String(),
		Family:     s.Family.String(),
		State:      s.State.String(),
		Timer:      s.Timer,
		Retrans:    s.Retrans,
		ExpiresMS:  s.Expires,
		RecvQ:      s.RecvQ,
		SendQ:      s.SendQ,
		LocalIP:    s.ID.Local.Addr(),
		LocalPort:  s.ID.Local.Port(),
		RemoteIP:   s.ID.Remote.Addr(),
		RemotePort: s.ID.Remote.Port(),
		Interface:  s.ID.Interface,
		Cookie:     uint64(s.ID.Cookie),
		UID:        s.UID,
		Inode:      s.Inode,
		NetNS:      ns,
		Action:     actionDestroy,
	}
	if reason != kill.NoReason {
		r.Action, r.Reason = actionSkip, reason.Code()
	}
	return r
}

// Read reads a plan file and checks it whole before it trusts any of it:
// not larger than 256 MiB, a header of this version, not cut short, not
// edited (the digest, and every line exactly as Write makes it), made in
// this boot and in this network namespace. It reads line by line, in memory
// bounded by the plan, and refuses a file that is not a plan at its first
// line. The whole file must come within a minute: a writer that neither
// writes nor closes (stdin of a pipeline still planning, a terminal) is an
// error, and the read left waiting on r ends with the process. Its errors
// are sentences that say what to do; an error reading r wraps
// ErrUnreadable, and a plan of another namespace is a *NetNSError.
func Read(r io.Reader, here host.Identity) (*File, error) {
	type read struct {
		f   *File
		err error
	}
	done := make(chan read, 1)
	go func() {
		f, err := readPlan(r, here, maxSize)
		done <- read{f, err}
	}()
	timer := time.NewTimer(readTimeout)
	defer timer.Stop()
	select {
	case got := <-done:
		return got.f, got.err
	case <-timer.C:
		return nil, unreadablef("the whole plan did not come within %v (is what writes it stuck?)", readTimeout)
	}
}

// ErrUnreadable is the error of a plan file that could not be read at all.
var ErrUnreadable = errors.New("cannot read the plan file")

// unreadable is an error that is ErrUnreadable, said by its cause alone
// ("there is no such file"), as the other errors of a plan file are.
type unreadable struct{ why string }

func (e unreadable) Error() string        { return e.why }
func (e unreadable) Is(target error) bool { return target == ErrUnreadable }

func unreadablef(format string, a ...any) error { return unreadable{fmt.Sprintf(format, a...)} }

// A NetNSError is the error of a plan file made in another network
// namespace than this one without a way to reach it (made for the namespace
// tcpreap ran in): it can be applied only where it was made.
type NetNSError struct {
	Plan, Here host.NetNS // where its sockets are, and where Read was called
}

func (e *NetNSError) Error() string {
	return fmt.Sprintf("its sockets are in network namespace %s and this is %s, where they are not; apply the plan where it was made (ip netns exec, nsenter --net)", e.Plan, e.Here)
}

// Limits on one line: a socket line is a few hundred bytes; the header
// carries the command line.
const (
	headerLineLimit = 1 << 20
	lineLimit       = 16 << 10
)

func readPlan(r io.Reader, here host.Identity, limit int64) (*File, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	br := bufio.NewReaderSize(lr, 64<<10)
	tooLarge := func() error {
		return fmt.Errorf("it is larger than %d bytes, more than tcpreap writes for a plan it can apply; make the plan again with a narrower selection", limit)
	}
	first, err := firstLine(br)
	switch {
	case lr.N <= 0:
		return nil, tooLarge()
	case errors.Is(err, errLineTooLong):
		return nil, errors.New("it is not a tcpreap plan (its first line is not the plan header; write one with tcpreap plan)")
	case err != nil && err != io.EOF:
		return nil, unreadablef("it cannot be read: %v", err)
	case len(first) == 0:
		return nil, errors.New("it is empty")
	}
	hdr, err := readHeader(first)
	if err != nil {
		return nil, err
	}
	body := sha256.New()
	body.Write(first)
	parts, err := partsOf(hdr, here)
	if err != nil {
		return nil, err
	}
	cookies := make(map[sockdiag.Cookie]int, min(hdr.Sockets, 1<<20))
	var lineErr error // the first bad socket line, said after the digest
	var last []byte   // the line read last: the trailer, once the file ends
	for n := 2; ; n++ {
		line, err := readLine(br, lineLimit)
		if err != nil && err != io.EOF {
			switch {
			case lr.N <= 0:
				return nil, tooLarge()
			case errors.Is(err, errLineTooLong):
				return nil, fmt.Errorf("line %d is longer than any line tcpreap writes; make the plan again", n)
			}
			return nil, unreadablef("it cannot be read: %v", err)
		}
		if len(line) == 0 {
			break
		}
		if n > hdr.Sockets+2 { // the sockets, then the trailer
			return nil, fmt.Errorf("it has more lines than the %d sockets its header counts and the summary; make the plan again", hdr.Sockets)
		}
		if last != nil {
			body.Write(last)
			if lineErr == nil {
				lineErr = addSocket(parts, cookies, last, n-1)
			}
		}
		last = line
		if lr.N <= 0 {
			return nil, tooLarge()
		}
	}
	var tail trailer
	if last == nil || !bytes.HasSuffix(last, []byte("\n")) || json.Unmarshal(last, &tail) != nil || tail.Summary == nil {
		return nil, errors.New("it is truncated (its last line is not the summary); make the plan again")
	}
	if tail.Digest != "sha256:"+hex.EncodeToString(body.Sum(nil)) {
		return nil, errors.New("it was changed after tcpreap wrote it (the digest does not match); make the plan again instead of editing it")
	}
	if hdr.BootID != here.BootID {
		return nil, errors.New("it was made on another host or before the last reboot (the boot id differs), where its cookies name other sockets; make the plan again")
	}
	if lineErr != nil {
		return nil, lineErr
	}
	n := 0
	for _, p := range parts {
		n += len(p.Plan.Targets) + len(p.Plan.Skipped)
	}
	if n != hdr.Sockets {
		return nil, fmt.Errorf("it has %d sockets and its header counts %d; make the plan again", n, hdr.Sockets)
	}
	// The digest cannot cover its own line: that line must be exactly what
	// tcpreap writes for these sockets.
	if !canonical(last, trailerOf(parts, tail.Digest)) {
		return nil, errors.New("it was changed after tcpreap wrote it (its summary line is not the one tcpreap writes for its sockets); make the plan again instead of editing it")
	}
	return &File{Header: *hdr, Parts: parts}, nil
}

// partsOf makes the empty parts the header names. A part of the namespace
// tcpreap runs in (no Reach) must be of here's: such a plan is applied where
// it was made.
func partsOf(hdr *Header, here host.Identity) ([]Part, error) {
	if len(hdr.Namespaces) == 0 {
		return nil, errors.New("its header names no network namespace; make the plan again")
	}
	parts := make([]Part, 0, len(hdr.Namespaces))
	for i, ns := range hdr.Namespaces {
		for _, before := range hdr.Namespaces[:i] {
			if before.ID == ns.ID {
				return nil, fmt.Errorf("its header names network namespace %s twice; make the plan again", ns.ID)
			}
		}
		if ns.Reach == "" && ns.ID != here.NetNS {
			return nil, &NetNSError{Plan: ns.ID, Here: here.NetNS}
		}
		parts = append(parts, Part{Namespace: ns, Plan: &kill.Plan{}})
	}
	return parts, nil
}

// addSocket reads socket line n into the part of its namespace; cookies
// holds the line of each cookie read so far.
func addSocket(parts []Part, cookies map[sockdiag.Cookie]int, line []byte, n int) error {
	s, reason, r, err := readRecord(line)
	if err != nil {
		return fmt.Errorf("line %d: %w", n, err)
	}
	i := slices.IndexFunc(parts, func(p Part) bool { return p.Namespace.ID == r.NetNS })
	if i < 0 {
		return fmt.Errorf("line %d: its socket is in network namespace %s, which the header does not name", n, r.NetNS)
	}
	plan := parts[i].Plan
	if first, ok := cookies[s.ID.Cookie]; ok {
		return fmt.Errorf("line %d: cookie %d is also on line %d, and a cookie names one socket", n, s.ID.Cookie, first)
	}
	cookies[s.ID.Cookie] = n
	if reason == kill.NoReason {
		plan.Targets = append(plan.Targets, s)
	} else {
		plan.Skipped = append(plan.Skipped, kill.Skip{Socket: s, Reason: reason})
	}
	return nil
}

var errLineTooLong = errors.New("line too long")

// firstLine returns the first line, or nothing when the whole file is
// blank. A blank line before a plan's header makes it no plan.
func firstLine(br *bufio.Reader) ([]byte, error) {
	line, err := readLine(br, headerLineLimit)
	for err == nil && len(line) > 0 && len(bytes.TrimSpace(line)) == 0 {
		var next []byte
		next, err = readLine(br, headerLineLimit)
		if len(next) == 0 {
			return nil, err // blank to the end
		}
		if len(bytes.TrimSpace(next)) > 0 {
			return line, nil // the blank line, which is no header
		}
	}
	return line, err
}

// readLine returns the next line with its newline (without one at the end
// of the file), nothing at the end, or errLineTooLong past limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, errLineTooLong
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		}
		return line, err
	}
}

func readHeader(line []byte) (*Header, error) {
	var probe struct {
		Plan *struct {
			Version int `json:"version"`
		} `json:"plan"`
	}
	if json.Unmarshal(line, &probe) != nil || probe.Plan == nil {
		return nil, errors.New("it is not a tcpreap plan (its first line is not the plan header; write one with tcpreap plan)")
	}
	switch v := probe.Plan.Version; {
	case v == 1:
		return nil, errors.New("it is a version 1 plan, from an older tcpreap that did not record every field of a socket; make the plan again with this tcpreap")
	case v != Version:
		return nil, fmt.Errorf("it is a version %d plan and this tcpreap reads version %d; make the plan again with this tcpreap", v, Version)
	}
	var h headerLine
	if err := strict(line, &h); err != nil || !canonical(line, h) {
		return nil, errors.New("its header line is not the one tcpreap writes (edited?); make the plan again")
	}
	return h.Plan, nil
}

// readRecord reads one socket line: the socket, why it is skipped (if it
// is), and the record, which names its namespace.
func readRecord(line []byte) (sockdiag.Socket, kill.Reason, record, error) {
	var r record
	if err := strict(line, &r); err != nil {
		return sockdiag.Socket{}, 0, r, err
	}
	s, err := r.socket()
	if err != nil {
		return s, 0, r, err
	}
	reason := kill.NoReason
	switch r.Action {
	case actionDestroy:
		if r.Reason != "" {
			return s, 0, r, fmt.Errorf("a socket to destroy has a reason (%q)", r.Reason)
		}
	case actionSkip:
		var ok bool
		if reason, ok = kill.ReasonByCode(r.Reason); !ok || reason == kill.NoReason {
			return s, 0, r, fmt.Errorf("unknown reason %q for a skipped socket", r.Reason)
		}
	default:
		return s, 0, r, fmt.Errorf("action %q has no place in a plan", r.Action)
	}
	if !canonical(line, r) {
		return s, 0, r, errors.New("it is not the line tcpreap writes for its socket (edited?)")
	}
	return s, reason, r, nil
}

// strict decodes one JSON object with no field it does not know.
func strict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// canonical reports whether line is exactly what encoding v writes: no key
// in another case, repeated, reordered or padded.
func canonical(line []byte, v any) bool {
	want, err := json.Marshal(v)
	return err == nil && bytes.Equal(append(want, '\n'), line)
}

// socket checks a record and returns its socket.
func (r record) socket() (sockdiag.Socket, error) {
	s := sockdiag.Socket{Timer: r.Timer, Retrans: r.Retrans, Expires: r.ExpiresMS, RecvQ: r.RecvQ, SendQ: r.SendQ, UID: r.UID, Inode: r.Inode}
	var ok bool
	if s.Protocol, ok = byName(r.Proto, inet.TCP, inet.UDP); !ok {
		return s, fmt.Errorf("unknown proto %q", r.Proto)
	}
	if s.Family, ok = byName(r.Family, inet.IPv4, inet.IPv6); !ok {
		return s, fmt.Errorf("unknown family %q", r.Family)
	}
	if s.State, ok = byName(r.State, sockdiag.AllStates.States()...); !ok {
		return s, fmt.Errorf("state %q is not one state", r.State)
	}
	for _, a := range []netip.Addr{r.LocalIP, r.RemoteIP} {
		if !a.IsValid() || a.Zone() != "" || a.Is4() != (s.Family == inet.IPv4) {
			return s, fmt.Errorf("addresses %s and %s are not of family %s", r.LocalIP, r.RemoteIP, s.Family)
		}
	}
	if c := sockdiag.Cookie(r.Cookie); !c.Valid() {
		return s, fmt.Errorf("cookie %d names no socket", r.Cookie)
	}
	s.ID = sockdiag.SockID{
		Local:     netip.AddrPortFrom(r.LocalIP, r.LocalPort),
		Remote:    netip.AddrPortFrom(r.RemoteIP, r.RemotePort),
		Interface: r.Interface,
		Cookie:    sockdiag.Cookie(r.Cookie),
	}
	return s, nil
}

// byName finds the value that prints as name, so that reading a plan uses
// the same names as writing it.
func byName[T fmt.Stringer](name string, values ...T) (T, bool) {
	for _, v := range values {
		if v.String() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}
