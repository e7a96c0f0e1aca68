// Command floor is the bare-syscall floor that `make bench` measures tcpreap against: the
// least a program must do to destroy the TCP sockets a state mask (and optionally a
// peer address) selects, and nothing more.
//
// It makes two state-masked dumps (AF_INET, then AF_INET6) on one NETLINK_SOCK_DIAG
// socket, read with raw recvfrom into a slice of sockids, then sends SOCK_DESTROY with
// each dumped sockid and its cookie, 256 requests per sendmsg, on one netlink socket per
// CPU, and reads the acks. No verification, no output; it exits 1 with a line on stderr
// only when the kernel refuses something (an errno other than ENOENT, which means the
// socket went away by itself). With -n it stops after the dumps: the floor of a listing.
//
// It is an independent measure, so it imports nothing of tcpreap's: the few netlink
// structs it needs are written out here.
//
// Usage: floor [-states S[,S]] [-dst IPv4] [-n]
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's sock_diag interface (include/uapi/linux/sock_diag.h, inet_diag.h).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	sockDestroy      = 21 // SOCK_DESTROY

	inetDiagReqBytecode = 1 // INET_DIAG_REQ_BYTECODE
	inetDiagBcDCond     = 8 // INET_DIAG_BC_D_COND

	nlmsgHdrLen = 16 // sizeof(struct nlmsghdr)
	reqLen      = 56 // sizeof(struct inet_diag_req_v2)
	sockidLen   = 48 // sizeof(struct inet_diag_sockid)
	msgIDOffset = 4  // of the sockid in inet_diag_msg
	reqIDOffset = 8  // of the sockid in inet_diag_req_v2

	batch = 256 // SOCK_DESTROY requests per sendmsg
)

// sockid is a struct inet_diag_sockid as the dump returned it: ports, addresses,
// interface and the 64-bit cookie, sent back unchanged in the SOCK_DESTROY request.
type sockid [sockidLen]byte

// target is one dumped socket.
type target struct {
	family uint8
	id     sockid
}

// The TCP states (include/net/tcp_states.h); the kernel's state mask has bit 1<<state.
var states = map[string]uint{
	"established": 1, "syn_sent": 2, "syn_recv": 3, "fin_wait1": 4, "fin_wait2": 5,
	"time_wait": 6, "close": 7, "close_wait": 8, "last_ack": 9, "listen": 10, "closing": 11,
}

func main() {
	stateList := flag.String("states", "", "comma-separated TCP states to dump (default: every state but listen)")
	dst := flag.String("dst", "", "only sockets whose remote address is this IPv4 address (a kernel bytecode filter)")
	dumpOnly := flag.Bool("n", false, "dump only, destroy nothing")
	flag.Parse()
	if err := run(*stateList, *dst, *dumpOnly); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(stateList, dst string, dumpOnly bool) error {
	mask := uint32(0xfff) &^ (1 << states["listen"])
	if stateList != "" {
		mask = 0
		for _, s := range strings.Split(stateList, ",") {
			bit, ok := states[s]
			if !ok {
				return fmt.Errorf("unknown state %q", s)
			}
			mask |= 1 << bit
		}
	}
	var bytecode []byte
	if dst != "" {
		addr, err := netip.ParseAddr(dst)
		if err != nil || !addr.Is4() {
			return fmt.Errorf("-dst %q is not an IPv4 address", dst)
		}
		bytecode = dstCond(addr)
	}
	fd, err := open()
	if err != nil {
		return err
	}
	var targets []target
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if targets, err = dump(fd, family, mask, bytecode, targets); err != nil {
			return err
		}
	}
	unix.Close(fd)
	if dumpOnly {
		return nil
	}
	return destroyAll(targets, mask)
}

// open is a NETLINK_SOCK_DIAG socket whose receive buffer holds a whole batch of acks
// (the kernel drops the acks that do not fit) and whose error acks do not echo the
// request.
func open() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("SO_RCVBUFFORCE: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("NETLINK_CAP_ACK: %w", err)
	}
	return fd, nil
}

// dstCond is an inet_diag bytecode program of one INET_DIAG_BC_D_COND: the remote
// address is addr (a /32, any port). yes jumps to the end (accept), no one past it
// (reject), as inet_diag_bc_audit wants.
func dstCond(addr netip.Addr) []byte {
	const n = 4 + 8 + 4 // inet_diag_bc_op, inet_diag_hostcond, an IPv4 address
	b := make([]byte, n)
	b[0] = inetDiagBcDCond
	b[1] = n                                         // yes
	binary.NativeEndian.PutUint16(b[2:], n+4)        // no
	b[4] = unix.AF_INET                              // hostcond.family
	b[5] = 32                                        // hostcond.prefix_len
	binary.NativeEndian.PutUint32(b[8:], ^uint32(0)) // hostcond.port = -1: any
	a := addr.As4()
	copy(b[12:], a[:])
	return b
}

// dump appends to targets every TCP socket of family whose state is in mask (and that
// bytecode accepts), read with recvfrom until NLMSG_DONE.
func dump(fd int, family uint8, mask uint32, bytecode []byte, targets []target) ([]target, error) {
	msgLen := nlmsgHdrLen + reqLen
	if bytecode != nil {
		msgLen += 4 + len(bytecode)
	}
	msg := make([]byte, msgLen)
	putHeader(msg, msgLen, sockDiagByFamily, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1)
	req := msg[nlmsgHdrLen:]
	req[0], req[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[4:], mask)
	if bytecode != nil {
		attr := msg[nlmsgHdrLen+reqLen:]
		binary.NativeEndian.PutUint16(attr[0:], uint16(4+len(bytecode)))
		binary.NativeEndian.PutUint16(attr[2:], inetDiagReqBytecode)
		copy(attr[4:], bytecode)
	}
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return targets, fmt.Errorf("dump request: %w", err)
	}
	buf := make([]byte, 64<<10) // the kernel fills at most 32 KiB per datagram of a dump
	for {
		n, err := recvfrom(fd, buf)
		if err != nil {
			return targets, fmt.Errorf("dump: %w", err)
		}
		for b := buf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return targets, errors.New("dump: a malformed netlink message")
			}
			switch binary.NativeEndian.Uint16(b[4:]) {
			case unix.NLMSG_DONE:
				return targets, nil
			case unix.NLMSG_ERROR:
				return targets, fmt.Errorf("dump: %w", unix.Errno(-int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:]))))
			}
			m := b[nlmsgHdrLen:l]
			t := target{family: m[0]}
			copy(t.id[:], m[msgIDOffset:msgIDOffset+sockidLen])
			targets = append(targets, t)
			b = b[(l+3)&^3:]
		}
	}
}

// destroyAll destroys targets on one netlink socket per CPU, each taking a contiguous
// share, 256 requests per sendmsg. It returns the first errno other than ENOENT.
func destroyAll(targets []target, mask uint32) error {
	workers := min(runtime.NumCPU(), max(1, len(targets)/batch))
	share := (len(targets) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		part := targets[min(w*share, len(targets)):min((w+1)*share, len(targets))]
		wg.Go(func() { errs[w] = destroy(part, mask) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func destroy(targets []target, mask uint32) error {
	fd, err := open()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	const msgLen = nlmsgHdrLen + reqLen
	msgs := make([]byte, batch*msgLen)
	ack := make([]byte, 4096)
	var refused error
	for len(targets) > 0 {
		k := min(batch, len(targets))
		for i, t := range targets[:k] {
			m := msgs[i*msgLen : (i+1)*msgLen]
			putHeader(m, msgLen, sockDestroy, unix.NLM_F_REQUEST|unix.NLM_F_ACK, uint32(i))
			req := m[nlmsgHdrLen:]
			req[0], req[1], req[2], req[3] = t.family, unix.IPPROTO_TCP, 0, 0
			binary.NativeEndian.PutUint32(req[4:], mask)
			copy(req[reqIDOffset:], t.id[:])
		}
		if _, err := unix.SendmsgN(fd, msgs[:k*msgLen], nil, nil, 0); err != nil {
			return fmt.Errorf("sendmsg: %w", err)
		}
		// Each request is answered by an ack datagram of its own.
		for range k {
			n, err := recvfrom(fd, ack)
			if err != nil {
				return fmt.Errorf("reading the acks: %w", err)
			}
			if n < nlmsgHdrLen+4 || binary.NativeEndian.Uint16(ack[4:]) != unix.NLMSG_ERROR {
				return errors.New("an answer that is no ack")
			}
			if e := unix.Errno(-int32(binary.NativeEndian.Uint32(ack[nlmsgHdrLen:]))); e != 0 && e != unix.ENOENT && refused == nil {
				refused = fmt.Errorf("SOCK_DESTROY: %w", e)
			}
		}
		targets = targets[k:]
	}
	return refused
}

func putHeader(b []byte, length int, typ, flags uint16, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:], uint32(length))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], 0)
}

// recvfrom is recvfrom(2) with no source address asked for: unix.Recvfrom allocates one
// per call.
func recvfrom(fd int, buf []byte) (int, error) {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}
