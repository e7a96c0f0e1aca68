package planfile_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Write a plan, then read it back where it was made. A real program passes
// what host.Here returns.
func Example() {
	here := host.Identity{BootID: "3f1c0a52-7d0e-4c5b-9a57-2a6f1e0c9b11", NetNS: "net:[4026531840]"}
	plan := &kill.Plan{Targets: []sockdiag.Socket{{
		Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.CloseWait,
		ID: sockdiag.SockID{
			Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
			Remote: netip.MustParseAddrPort("192.0.2.2:40000"),
			Cookie: 4711,
		},
	}}}
	var file bytes.Buffer
	if err := planfile.Write(&file, &planfile.File{Parts: []planfile.Part{{Namespace: planfile.NamespaceOf(nil, here), Plan: plan}}, Header: planfile.Header{Command: []string{"tcpreap", "plan"}}}, here); err != nil {
		fmt.Println(err)
		return
	}
	f, err := planfile.Read(&file, here)
	if err != nil {
		fmt.Println(err)
		return
	}
	t := f.Parts[0].Plan.Targets[0]
	fmt.Println(f.Header.Version, t.State, t.ID.Remote, t.ID.Cookie)

	_, err = planfile.Read(bytes.NewReader([]byte(`{"plan":{"version":1}}`+"\n")), here)
	fmt.Println(err)
	// Output:
	// 3 close_wait 192.0.2.2:40000 4711
	// it is a version 1 plan, from an older tcpreap that did not record every field of a socket; make the plan again with this tcpreap
}
