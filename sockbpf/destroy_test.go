package sockbpf

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		verdict uint32
		errno   int32
		want    error
	}{
		{verdictDestroyed, 0, nil},
		{verdictUnconnected, 0, ErrUnconnected},
		{verdictNotFull, 0, ErrNotFullSocket},
		{verdictFailed, -int32(syscall.EOPNOTSUPP), syscall.EOPNOTSUPP},
	} {
		b := make([]byte, answerSize)
		binary.NativeEndian.PutUint64(b, 42)
		binary.NativeEndian.PutUint32(b[8:], tc.verdict)
		binary.NativeEndian.PutUint32(b[12:], uint32(tc.errno))
		c, err := decode(b)
		if c != 42 || !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("verdict %d errno %d: got %d, %v; want 42, %v", tc.verdict, tc.errno, c, err, tc.want)
		}
	}
	b := make([]byte, answerSize)
	binary.NativeEndian.PutUint32(b[8:], 9)
	if _, err := decode(b); err == nil {
		t.Error("an unknown verdict decoded without an error")
	}
}

func TestUnique(t *testing.T) {
	got := unique([]uint64{3, 1, 3, 2, 1})
	if len(got) != 3 || got[0] != 3 || got[1] != 1 || got[2] != 2 {
		t.Errorf("unique: %v", got)
	}
}
