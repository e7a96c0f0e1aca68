package host

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilePath: a regular file is named by its path; a pipe, what is no
// file and a deleted file are not.
func TestFilePath(t *testing.T) {
	name := filepath.Join(t.TempDir(), "reap.plan")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, ok := FilePath(f); !ok || got != name {
		t.Errorf("FilePath = %q, %v; want %q", got, ok, name)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if got, ok := FilePath(w); ok {
		t.Errorf("a pipe: %q", got)
	}
	if got, ok := FilePath(io.Discard); ok {
		t.Errorf("no file: %q", got)
	}
	os.Remove(name)
	if got, ok := FilePath(f); ok {
		t.Errorf("a deleted file: %q", got)
	}
}

func TestDiscards(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if !Discards(null) {
		t.Errorf("Discards(%s) = false", os.DevNull)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "plan"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Discards(f) || Discards(&strings.Builder{}) {
		t.Error("Discards of a regular file or a builder = true")
	}
}
