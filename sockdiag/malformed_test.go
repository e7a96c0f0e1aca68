package sockdiag_test

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// kernelSays answers the first request with msgs (given the request's
// sequence) and every later read with nothing.
func kernelSays(msgs func(seq uint32) []netlink.Message) *sockdiag.Conn {
	var queue []netlink.Message
	return sockdiag.NewConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		if reqs != nil {
			queue = msgs(reqs[0].Header.Sequence)
			return nil, nil
		}
		if len(queue) == 0 {
			return nil, io.EOF
		}
		out := queue
		queue = nil
		return out, nil
	}), nil)
}

func diagMsg(seq uint32, data []byte) netlink.Message {
	return netlink.Message{Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Multi, Sequence: seq}, Data: data}
}

func done(seq uint32) netlink.Message {
	return netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: seq}, Data: make([]byte, 4)}
}

func TestDumpRefusesMalformedAnswers(t *testing.T) {
	good, _ := sockets(1, sockdiag.Established, 1)[0].MarshalBinary()
	tests := []struct {
		name string
		msgs func(seq uint32) []netlink.Message
		want string
	}{
		{"short message", func(seq uint32) []netlink.Message {
			return []netlink.Message{diagMsg(seq, good[:40]), done(seq)}
		}, "inet_diag_msg of 40 bytes"},
		{"unknown type", func(seq uint32) []netlink.Message {
			m := diagMsg(seq, good)
			m.Header.Type = 99
			return []netlink.Message{m, done(seq)}
		}, "unexpected netlink message type 99"},
		{"unknown family", func(seq uint32) []netlink.Message {
			bad := append([]byte{7}, good[1:]...)
			return []netlink.Message{diagMsg(seq, bad), done(seq)}
		}, "address family 7"},
		{"error instead of a dump", func(seq uint32) []netlink.Message {
			errno := -int32(unix.EINVAL)
			return []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: seq},
				Data: binary.NativeEndian.AppendUint32(make([]byte, 0, 20), uint32(errno))}}
		}, "invalid argument"},
	}
	for _, tt := range tests {
		c := kernelSays(tt.msgs)
		var err error
		n := 0
		for _, e := range c.Dump(sockdiag.Request{Family: sockdiag.IPv4, Protocol: sockdiag.TCP, States: sockdiag.AllStates}) {
			if e != nil {
				err = e
				break
			}
			n++
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %d sockets, error %v; want an error with %q", tt.name, n, err, tt.want)
		}
		var oe *sockdiag.OpError
		if !errors.As(err, &oe) || oe.Op != "dump" {
			t.Errorf("%s: error %T is not a dump OpError", tt.name, err)
		}
	}
}

func TestDestroyRefusesMalformedAnswers(t *testing.T) {
	target := sockets(1, sockdiag.Established, 1)
	c := kernelSays(func(seq uint32) []netlink.Message {
		return []netlink.Message{{Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Sequence: seq}, Data: make([]byte, 4)}}
	})
	if err := c.Destroy(target)[0]; err == nil || !strings.Contains(err.Error(), "unexpected netlink message type") {
		t.Errorf("a non-ack answer: error %v", err)
	}
	c = kernelSays(func(uint32) []netlink.Message { return nil })
	if err := c.Destroy(target)[0]; err == nil || !strings.Contains(err.Error(), "no answer from the kernel") {
		t.Errorf("no answer: error %v", err)
	}
}
