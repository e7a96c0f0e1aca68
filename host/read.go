package host

import (
	"fmt"
	"io"
	"os"
)

// readSmall reads a file of at most limit bytes; a larger one is an error,
// not a truncated answer. /proc files are read this way: their size is
// unknown until read.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
