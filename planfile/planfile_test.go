package planfile

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

var here = host.Identity{BootID: "3f1c0a52-7d0e-4c5b-9a57-2a6f1e0c9b11", NetNS: "net:[4026531840]"}

// filled returns a socket with every field set, each to a value of its own,
// found by reflection: a field added to sockdiag.Socket and forgotten by the
// plan file fails the round trip.
func filled(seed uint64) sockdiag.Socket {
	var s sockdiag.Socket
	n := seed
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			switch v.Interface().(type) {
			case netip.AddrPort:
				return // the addresses are set below, by family
			}
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			n++
			v.SetUint(n)
		default:
			panic("filled: no value for a field of kind " + v.Kind().String())
		}
	}
	fill(reflect.ValueOf(&s).Elem())
	s.Protocol, s.Family, s.State = inet.TCP, inet.IPv6, sockdiag.FinWait2
	s.Timer = 3 // the timewait timer: the field version 1 lost
	s.ID.Local = netip.MustParseAddrPort("[::ffff:192.0.2.1]:5432")
	s.ID.Remote = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::2"), uint16(seed))
	return s
}

func testFile() *File {
	v4 := filled(100)
	v4.Family, v4.State, v4.Timer = inet.IPv4, sockdiag.CloseWait, 1
	v4.ID.Local, v4.ID.Remote = netip.MustParseAddrPort("192.0.2.1:5432"), netip.MustParseAddrPort("192.0.2.2:40000")
	udp := filled(200)
	udp.Protocol, udp.State = inet.UDP, sockdiag.Established
	lis := filled(300)
	lis.State, lis.ID.Remote = sockdiag.Listen, netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	return &File{
		Header: Header{Command: []string{"tcpreap", "plan", "192.0.2.2"}, Created: time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC)},
		Parts: []Part{{Namespace: Namespace{ID: here.NetNS}, Plan: &kill.Plan{
			Targets: []sockdiag.Socket{filled(1), v4, udp},
			Skipped: []kill.Skip{{Socket: lis, Reason: kill.ReasonListen}, {Socket: filled(400), Reason: kill.ReasonSession}},
		}}},
	}
}

func write(t testing.TB, f *File) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f, here); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRoundTrip: every field of every socket, and the header, read back as
// written.
func TestRoundTrip(t *testing.T) {
	want := testFile()
	got, err := Read(strings.NewReader(write(t, want)), here)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Parts, want.Parts) {
		t.Errorf("plan read back:\n got %+v\nwant %+v", got.Parts, want.Parts)
	}
	wantHdr := want.Header
	wantHdr.Version, wantHdr.BootID, wantHdr.Sockets = Version, here.BootID, 5
	wantHdr.Namespaces = []Namespace{{ID: here.NetNS}}
	if !reflect.DeepEqual(got.Header, wantHdr) {
		t.Errorf("header read back:\n got %+v\nwant %+v", got.Header, wantHdr)
	}
	tw := got.Parts[0].Plan.Targets[0]
	if !tw.IsTimeWait() || tw.ResetsPeer() {
		t.Errorf("the FIN_WAIT2 timewait socket reads back as IsTimeWait %v, ResetsPeer %v", tw.IsTimeWait(), tw.ResetsPeer())
	}
}

func TestEverythingIsRemembered(t *testing.T) {
	f := testFile()
	f.Header.Everything = true
	got, err := Read(strings.NewReader(write(t, f)), here)
	if err != nil || !got.Header.Everything {
		t.Fatalf("everything %v, %v; want true", got != nil && got.Header.Everything, err)
	}
}

func TestRefusals(t *testing.T) {
	good := write(t, testFile())
	lines := strings.SplitAfter(good, "\n")
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "it is empty"},
		{"blank", "\n\n", "it is empty"},
		{"blank spaces", " \n\t\n", "it is empty"},
		{"a blank line before the header", "\n" + good, "not a tcpreap plan"},
		{"a first line longer than any header", strings.Repeat("x", 2<<20), "not a tcpreap plan"},
		{"a socket line longer than any", lines[0] + strings.Repeat("x", 20<<10) + "\n" + strings.Join(lines[1:], ""), "line 2 is longer"},
		{"a blank line in the middle", lines[0] + "\n" + strings.Join(lines[1:], ""), "more lines than the 5 sockets its header counts"},
		{"a socket line repeated", lines[0] + lines[1] + strings.Join(lines[1:], ""), "more lines than the 5 sockets"},
		{"a socket line repeated, resealed", resign(strings.Replace(lines[0], `"sockets":5`, `"sockets":6`, 1) + lines[1] + strings.Join(lines[1:], "")), "cookie"},
		{"a socket line removed, resealed", resign(lines[0] + strings.Join(lines[2:], "")), "it has 4 sockets and its header counts 5"},
		{"not a plan", `{"proto":"tcp"}` + "\n", "not a tcpreap plan"},
		{"not json", "hello\n", "not a tcpreap plan"},
		{"version 1", `{"plan":{"version":1,"boot_id":"x","netns":"net:[1]"}}` + "\n", "version 1 plan, from an older tcpreap"},
		{"other version", strings.Replace(good, `"version":3`, `"version":4`, 1), "version 4 plan"},
		{"truncated at a line", strings.Join(lines[:3], ""), "truncated"},
		{"truncated mid-line", good[:len(good)-10], "truncated"},
		{"only the header", lines[0], "truncated"},
		{"edited cookie", strings.Replace(good, `"cookie":`, `"cookie":9`, 1), "changed after tcpreap wrote it"},
		{"line removed", lines[0] + strings.Join(lines[2:], ""), "changed after tcpreap wrote it"},
		{"edited boot id", strings.Replace(good, here.BootID, "00000000-0000-0000-0000-000000000000", 1), "changed after tcpreap wrote it"},
		{"summary count edited", strings.Replace(good, `"targets":3`, `"targets":4`, 1), "its summary line is not the one"},
		{"summary key edited", strings.Replace(good, `"digest"`, `"Digest"`, 1), "its summary line is not the one"},
		{"summary key repeated", strings.Replace(good, `"skipped":2`, `"skipped":2,"skipped":2`, 1), "its summary line is not the one"},
		{"other boot", resign(strings.Replace(good, here.BootID, "00000000-0000-0000-0000-000000000000", 1)), "boot id differs"},
		{"other netns", resign(strings.ReplaceAll(good, string(here.NetNS), "net:[1]")), "network namespace net:[1] and this is " + string(here.NetNS)},
		{"a socket of no namespace the header names", resign(strings.Replace(good, `"netns":"`+string(here.NetNS), `"netns":"net:[1]`, 1)), "network namespace net:[1], which the header does not name"},
		{"a namespace named twice", resign(strings.Replace(good, `"namespaces":[`, `"namespaces":[{"id":"net:[1]","reach":"x"},{"id":"net:[1]","reach":"y"},`, 1)), "names network namespace net:[1] twice"},
		{"header key in another case", resign(strings.Replace(good, `"boot_id"`, `"Boot_ID"`, 1)), "header line is not the one tcpreap writes"},
		{"header with an extra key", resign(strings.Replace(good, `"everything":false`, `"everything":false,"netns":"x"`, 1)), "header line is not the one tcpreap writes"},
	}
	for _, tt := range tests {
		_, err := Read(strings.NewReader(tt.file), here)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	var other *NetNSError
	_, err := Read(strings.NewReader(resign(strings.ReplaceAll(good, string(here.NetNS), "net:[1]"))), here)
	if !errors.As(err, &other) || other.Plan != "net:[1]" || other.Here != here.NetNS {
		t.Errorf("a plan of another namespace: %#v, want a *NetNSError", err)
	}
}

// TestBadSockets re-signs edited plans, as a careless tool might, so that
// the socket lines themselves are checked.
func TestBadSockets(t *testing.T) {
	good := write(t, testFile())
	for _, tt := range []struct{ from, to, want string }{
		{`"proto":"tcp"`, `"proto":"sctp"`, `unknown proto "sctp"`},
		{`"family":"ipv4"`, `"family":"ipx"`, `unknown family "ipx"`},
		{`"state":"close_wait"`, `"state":"all"`, "not one state"},
		{`"state":"close_wait"`, `"state":"CLOSE-WAIT"`, "not one state"},
		{`"local_ip":"192.0.2.1"`, `"local_ip":"2001:db8::1"`, "not of family ipv4"},
		{`"local_ip":"192.0.2.1"`, `"local_ip":"fe80::1%eth0"`, "not of family ipv4"},
		{`"action":"destroy"`, `"action":"killed"`, "has no place in a plan"},
		{`"reason":"listen"`, `"reason":"because"`, `unknown reason "because"`},
		{`"action":"destroy"`, `"action":"skip"`, `unknown reason ""`},
		{`"uid":`, `"extra":1,"uid":`, "unknown field"},
		{`"cookie":`, `"Cookie":`, "not the line tcpreap writes"},
		{`"inode":`, `"inode":0,"inode":`, "not the line tcpreap writes"},
		{`"cookie":`, `"cookie": `, "not the line tcpreap writes"},
	} {
		_, err := Read(strings.NewReader(resign(strings.Replace(good, tt.from, tt.to, 1))), here)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s → %s: error %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
	for _, cookie := range []string{"0", "18446744073709551615"} {
		f := testFile()
		f.Parts[0].Plan.Targets[0].ID.Cookie = 0
		file := write(t, f)
		if cookie != "0" {
			file = resign(strings.Replace(file, `"cookie":0`, `"cookie":`+cookie, 1))
		}
		if _, err := Read(strings.NewReader(file), here); err == nil || !strings.Contains(err.Error(), "names no socket") {
			t.Errorf("cookie %s: error %v, want it refused", cookie, err)
		}
	}
}

// TestReadIsBounded: a file of many short lines, or of one endless line
// (/dev/zero), is refused without reading it into memory whole.
func TestReadIsBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Read(io.LimitReader(zeros{}, 64<<20), here); err == nil || !strings.Contains(err.Error(), "not a tcpreap plan") {
		t.Errorf("64 MiB of zeros: %v", err)
	}
	if _, err := Read(strings.NewReader(strings.Repeat("a\n", 1<<20)), here); err == nil || !strings.Contains(err.Error(), "not a tcpreap plan") {
		t.Errorf("a million short lines: %v", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("reading them allocated %d MiB", grew>>20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestTooLarge(t *testing.T) {
	file := write(t, testFile())
	if _, err := readPlan(strings.NewReader(file), here, int64(len(file))); err != nil {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	if _, err := readPlan(strings.NewReader(file+" "), here, int64(len(file))); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v, want it refused as too large", err)
	}
}

// resign gives an edited plan file the digest of its new contents.
func resign(file string) string {
	lines := strings.SplitAfter(file, "\n")
	body := strings.Join(lines[:len(lines)-2], "")
	trailer := lines[len(lines)-2]
	i := strings.Index(trailer, `"digest":"`) + len(`"digest":"`)
	return body + trailer[:i] + digest([]byte(body)) + trailer[i+len("sha256:")+64:]
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := Write(&b, testFile(), here); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"plan":{"version":2}}` + "\n"))
	f.Add([]byte(`{"plan":{"version":3}}` + "\n"))
	f.Add([]byte(`{"plan":{"version":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), here)
		if err == nil {
			if file == nil || len(file.Parts) == 0 {
				t.Fatal("no plan and no error")
			}
			// What Read accepts, Write writes back byte for byte.
			var again bytes.Buffer
			if err := Write(&again, file, here); err != nil || !bytes.Equal(again.Bytes(), data) {
				t.Fatalf("accepted a file that does not write back the same (%v)", err)
			}
		}
	})
}

// TestReadHasADeadline: a plan from a writer that neither writes nor closes
// (stdin of a pipeline that hangs) is refused in time, not waited on.
func TestReadHasADeadline(t *testing.T) {
	defer func(d time.Duration) { readTimeout = d }(readTimeout)
	readTimeout = 50 * time.Millisecond
	r, w := io.Pipe()
	defer w.Close()
	start := time.Now()
	_, err := Read(r, here)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "did not come within") {
		t.Errorf("a silent writer: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read waited %v", d)
	}
}
