package sockbpf

// make generate runs these with Debian's clang (packages clang, llvm and
// libbpf-dev, which make deps installs): bpf2go compiles destroy.bpf.c
// into an object for each byte order and writes the Go that embeds it,
// then destroy.bpf.sum records the SHA-256 of the source and of what was
// generated from it, which TestGenerated checks.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel,bpfeb destroy destroy.bpf.c
//go:generate sh -c "sha256sum destroy.bpf.c gen.go destroy_bpfel.o destroy_bpfeb.o destroy_bpfel.go destroy_bpfeb.go > destroy.bpf.sum"
