package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
)

// inetDiagReqBytecode is the request attribute that carries a filter program.
const inetDiagReqBytecode = 1 // INET_DIAG_REQ_BYTECODE

// requestLen is sizeof(struct inet_diag_req_v2).
const requestLen = 8 + sockIDLen

// A Request is struct inet_diag_req_v2 with its optional filter program: the
// payload of a SOCK_DIAG_BY_FAMILY dump and of a SOCK_DESTROY.
type Request struct {
	Family   inet.Family
	Protocol inet.Protocol
	Ext      uint8     // idiag_ext: the attributes asked for
	States   StateMask // idiag_states, for a dump
	// ID: in a dump, nonzero ports are an exact-port prefilter; in a destroy,
	// the whole sockid of the target, cookie included.
	ID       SockID
	Bytecode []byte // INET_DIAG_REQ_BYTECODE, for a dump; nil for none
	// MPTCP makes a dump one of MPTCP sockets: IPPROTO_MPTCP does not fit
	// sdiag_protocol and goes in INET_DIAG_REQ_PROTOCOL (Linux 5.9 and
	// later), and Protocol must be 0, so that an older kernel, which skips
	// the attribute, answers ENOENT instead of dumping another protocol.
	MPTCP bool
}

// MarshalBinary encodes the request and, if there is one, its program.
func (r Request) MarshalBinary() ([]byte, error) {
	return r.appendBinary(make([]byte, 0, requestLen+nlaHdrLen+len(r.Bytecode)+3))
}

// appendBinary appends the encoded request to b, padded to four bytes.
func (r *Request) appendBinary(b []byte) ([]byte, error) {
	if len(r.Bytecode) > 0xffff-nlaHdrLen {
		return b, errors.New("filter program longer than a netlink attribute can carry")
	}
	start := len(b)
	b = append(b, make([]byte, requestLen)...)
	req := b[start:]
	req[0] = uint8(r.Family)
	req[1] = uint8(r.Protocol)
	req[2] = r.Ext
	binary.NativeEndian.PutUint32(req[4:8], r.States.kernelMask())
	if err := r.ID.marshal(req[8:]); err != nil {
		return b[:start], err
	}
	if r.Bytecode != nil {
		b = binary.NativeEndian.AppendUint16(b, uint16(nlaHdrLen+len(r.Bytecode)))
		b = binary.NativeEndian.AppendUint16(b, inetDiagReqBytecode)
		b = append(b, r.Bytecode...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if r.MPTCP {
		b = binary.NativeEndian.AppendUint16(b, nlaHdrLen+4)
		b = binary.NativeEndian.AppendUint16(b, inetDiagReqProtocol)
		b = binary.NativeEndian.AppendUint32(b, ipprotoMPTCP)
	}
	return b, nil
}

// UnmarshalBinary decodes a request; a test fake of the kernel reads the
// requests it is sent with it.
func (r *Request) UnmarshalBinary(b []byte) error {
	if len(b) < requestLen {
		return fmt.Errorf("inet_diag_req_v2 of %d bytes, want at least %d", len(b), requestLen)
	}
	id, err := unmarshalSockID(b[8:requestLen], b[0])
	if err != nil {
		return err
	}
	*r = Request{
		Family:   inet.Family(b[0]),
		Protocol: inet.Protocol(b[1]),
		Ext:      b[2],
		States:   StateMask(binary.NativeEndian.Uint32(b[4:8])) &^ (1 << newSynRecv),
		ID:       id,
	}
	for rest := b[requestLen:]; len(rest) > 0; {
		if len(rest) < nlaHdrLen {
			return fmt.Errorf("request attribute of %d bytes, shorter than its header", len(rest))
		}
		n := int(binary.NativeEndian.Uint16(rest[0:2]))
		typ := binary.NativeEndian.Uint16(rest[2:4])
		if n < nlaHdrLen || n > len(rest) {
			return fmt.Errorf("request attribute type %d of length %d in %d bytes", typ, n, len(rest))
		}
		switch {
		case typ == inetDiagReqBytecode:
			r.Bytecode = rest[nlaHdrLen:n]
		case typ == inetDiagReqProtocol && n == nlaHdrLen+4 && binary.NativeEndian.Uint32(rest[nlaHdrLen:]) == ipprotoMPTCP:
			r.MPTCP = true
		default:
			return fmt.Errorf("request attribute type %d of length %d is neither a filter program nor IPPROTO_MPTCP", typ, n)
		}
		rest = rest[min((n+3)&^3, len(rest)):]
	}
	return nil
}
