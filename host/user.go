package host

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// userTimeout bounds the lookup of a user name: with NSS behind it (LDAP,
// SSSD) a lookup may wait on the network.
const userTimeout = 5 * time.Second

// LookupUID returns the uid of a user name, waiting at most 5 seconds; an
// error is a sentence.
func LookupUID(ctx context.Context, name string) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, userTimeout)
	defer cancel()
	type answer struct {
		u   *user.User
		err error
	}
	done := make(chan answer, 1)
	go func() {
		u, err := user.Lookup(name)
		done <- answer{u, err}
	}()
	select {
	case a := <-done:
		var unknown user.UnknownUserError
		if errors.As(a.err, &unknown) {
			return 0, fmt.Errorf("no user is named %s on this host (getent passwd lists them)", name)
		} else if a.err != nil {
			return 0, a.err
		}
		uid, err := strconv.ParseUint(a.u.Uid, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("user %s has uid %q, not a number", name, a.u.Uid)
		}
		return uint32(uid), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("looking user %s up took longer than %v", name, userTimeout)
	}
}

// ParseUIDs reads users: names, looked up (LookupUID), or numbers. An error
// starts with the word.
func ParseUIDs(ctx context.Context, words []string) ([]uint32, error) {
	var uids []uint32
	for _, w := range words {
		w = strings.TrimSpace(w)
		n, err := strconv.ParseUint(w, 10, 32)
		switch {
		case err == nil:
			uids = append(uids, uint32(n))
			continue
		case w == "":
			return nil, fmt.Errorf("%q: give a user name or number", w)
		case errors.Is(err, strconv.ErrRange):
			return nil, fmt.Errorf("%s: a uid is at most %d; give a user name or number", w, uint32(math.MaxUint32))
		}
		uid, err := LookupUID(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w, err)
		}
		uids = append(uids, uid)
	}
	return uids, nil
}
