package sockbpf

// make generate runs this with Debian's clang (packages clang, llvm and
// libbpf-dev), then writes destroy.bpf.sum.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel,bpfeb destroy destroy.bpf.c
