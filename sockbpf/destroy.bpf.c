//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// The bpf engine's programs: a TCP and a UDP socket iterator that destroy
// the sockets whose cookie is in the targets map, with the bpf_sock_destroy
// kfunc (Linux 6.5), and write one answer for each target they meet.
//
// The kernel types are declared here, only the fields the programs read,
// with preserve_access_index: the loader relocates each field to its offset
// in the running kernel's BTF, so no vmlinux.h is needed to build them.
// make generate rebuilds destroy_bpfel.o and destroy_bpfeb.o from this file.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// include/uapi/linux/bpf.h
#define BPF_MAP_TYPE_HASH 1

#include <bpf/bpf_helpers.h>

// include/net/tcp_states.h
#define TCP_ESTABLISHED 1
#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12

// The verdicts, as the Go side reads them (Verdict).
#define VERDICT_DESTROYED 0
#define VERDICT_FAILED 1      // the kfunc answered an errno
#define VERDICT_UNCONNECTED 2 // an unconnected UDP socket: left alone
#define VERDICT_NOT_FULL 3    // a TIME_WAIT or request socket: left alone

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct sock_common {
	__be16 skc_dport;
	unsigned char skc_state;
} __attribute__((preserve_access_index));

struct udp_sock;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

// The cookies of the plan's targets. The Go side sizes it before loading;
// a program deletes each cookie it answers, so that a socket met twice (an
// iterator may show a socket again after a read) is answered once, and the
// cookies left after the walk are the targets no socket of this namespace
// had.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} targets SEC(".maps");

// One answer, as bpf_seq_write writes it to the iterator's reader (the Go
// side's answerSize and decode read it).
struct answer {
	__u64 cookie;
	__u32 verdict;
	__s32 err;
};

static __always_inline void answer(struct bpf_iter_meta *meta, __u64 cookie, __u32 verdict, int err)
{
	struct answer a = { .cookie = cookie, .verdict = verdict, .err = err };

	bpf_map_delete_elem(&targets, &cookie);
	bpf_seq_write(meta->seq, &a, sizeof(a));
}

SEC("iter/tcp")
int destroy_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *sk = ctx->sk_common;
	__u64 cookie;
	int err;

	if (!sk)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	if (!bpf_map_lookup_elem(&targets, &cookie))
		return 0;
	// bpf_sock_destroy casts its argument to a full struct sock and reads
	// sk_protocol, which a timewait or request socket does not have: only
	// full sockets are given to it.
	if (sk->skc_state == TCP_TIME_WAIT || sk->skc_state == TCP_NEW_SYN_RECV) {
		answer(ctx->meta, cookie, VERDICT_NOT_FULL, 0);
		return 0;
	}
	err = bpf_sock_destroy(sk);
	answer(ctx->meta, cookie, err ? VERDICT_FAILED : VERDICT_DESTROYED, err);
	return 0;
}

SEC("iter/udp")
int destroy_udp(struct bpf_iter__udp *ctx)
{
	struct sock_common *sk = (struct sock_common *)ctx->udp_sk;
	__u64 cookie;
	int err;

	if (!sk)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	if (!bpf_map_lookup_elem(&targets, &cookie))
		return 0;
	// An unconnected socket serves every peer, and destroying it releases
	// its port under the application: it is never destroyed, whatever the
	// map says.
	if (sk->skc_state != TCP_ESTABLISHED || sk->skc_dport == 0) {
		answer(ctx->meta, cookie, VERDICT_UNCONNECTED, 0);
		return 0;
	}
	err = bpf_sock_destroy(sk);
	answer(ctx->meta, cookie, err ? VERDICT_FAILED : VERDICT_DESTROYED, err);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
