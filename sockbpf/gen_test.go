package sockbpf

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestGenerated fails when the committed objects and their Go files do not
// come from destroy.bpf.c as it is: make generate records the SHA-256 of
// the source and of each file it wrote in destroy.bpf.sum. Comparing those
// rather than compiling again holds on every machine: another clang (or
// none) would build other bytes from the same source.
func TestGenerated(t *testing.T) {
	f, err := os.Open("destroy.bpf.sum")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{"destroy.bpf.c": true, "gen.go": true, "destroy_bpfel.o": true, "destroy_bpfeb.o": true, "destroy_bpfel.go": true, "destroy_bpfeb.go": true}
	s := bufio.NewScanner(f)
	for s.Scan() {
		sum, name, ok := strings.Cut(s.Text(), "  ")
		if !ok || !want[name] {
			t.Fatalf("destroy.bpf.sum: unexpected line %q", s.Text())
		}
		delete(want, name)
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s is not the file make generate wrote: run make generate (clang, llvm and libbpf-dev) and commit what it writes", name)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		t.Errorf("destroy.bpf.sum has no line for %s: run make generate", name)
	}
}
