package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readSmall(path, 5); err != nil || string(b) != "12345" {
		t.Errorf("readSmall at the limit: %q, %v", b, err)
	}
	if _, err := readSmall(path, 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("readSmall over the limit: %v", err)
	}
}
