package flows

import (
	"context"
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// TestConnDump: the dump request is a ctnetlink GET with NLM_F_DUMP and the kernel
// filter; the answer is decoded and checked again in Go (the fake kernel filters
// nothing).
func TestConnDump(t *testing.T) {
	answer := hexBytes(t, dnatFlowMessage)
	var got netlink.Message
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = reqs[0]
		h := netlink.Header{Type: headerType(0), Sequence: got.Header.Sequence, PID: got.Header.PID}
		return nltest.Multipart([]netlink.Message{
			{Header: h, Data: answer},
			{Header: h, Data: answer},
			{Header: h, Data: []byte{0, 0, 0, 0}}, // NLMSG_DONE and its error code 0
		})
	}))
	defer c.Close()
	mark := MarkMask{0x10, 0xff}
	flows, err := c.Dump(context.Background(), &Filter{Families: []inet.Family{inet.IPv4}, Mark: &mark})
	if err != nil {
		t.Fatal(err)
	}
	// The same entry twice (as the kernel repeats a hash bucket when the entry it
	// stopped at went away between two reads of the dump) is one entry.
	if len(flows) != 1 || flows[0].ID != 0xa7077cf3 {
		t.Errorf("dump: %v, want the one entry once", flows)
	}
	if got.Header.Type != headerType(ipctnlMsgCTGet) || got.Header.Flags&netlink.Dump != netlink.Dump || got.Data[0] != byte(inet.IPv4) {
		t.Errorf("dump request %+v", got)
	}
	other := MarkMask{0x20, 0xff}
	if flows, _ := c.Dump(context.Background(), &Filter{Mark: &other}); len(flows) != 0 {
		t.Errorf("Go did not check the mark again: %v", flows)
	}
}

// TestConnDelete: a delete asks for an ack, and the kernel's ENOENT comes back as an
// OpError that unwraps to it.
func TestConnDelete(t *testing.T) {
	var fl Flow
	if err := fl.UnmarshalBinary(hexBytes(t, dnatFlowMessage)); err != nil {
		t.Fatal(err)
	}
	var got netlink.Message
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = reqs[0]
		return nltest.Error(int(unix.ENOENT), reqs)
	}))
	defer c.Close()
	err := c.Delete(context.Background(), fl)
	var op *OpError
	if !errors.Is(err, unix.ENOENT) || !errors.As(err, &op) || op.Op != "delete" {
		t.Errorf("delete: %v, want an OpError with ENOENT", err)
	}
	want, _ := deleteRequest(fl)
	if got.Header.Type != headerType(ipctnlMsgCTDelete) || got.Header.Flags&netlink.Acknowledge == 0 || string(got.Data) != string(want) {
		t.Errorf("delete request %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Delete(ctx, fl); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled delete: %v", err)
	}
}

func TestExplain(t *testing.T) {
	for errno, want := range map[unix.Errno]string{
		unix.EPERM: "CAP_NET_ADMIN", unix.EPROTONOSUPPORT: "nf_conntrack_netlink", unix.EOPNOTSUPP: "nf_conntrack_netlink",
	} {
		if why, ok := Explain(&OpError{Op: "dump", Err: errno}); !ok || !contains(why, want) {
			t.Errorf("%v: %q", errno, why)
		}
	}
	if _, ok := Explain(errors.New("other")); ok {
		t.Error("an unknown error explained")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
