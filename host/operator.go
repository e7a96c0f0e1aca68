package host

import (
	"os"
	"os/user"
	"strconv"
)

// An Operator is the person running tcpreap, as an audit record names them.
type Operator struct {
	UID      int
	User     string // "" when the uid has no name
	SudoUser string // SUDO_USER: who ran sudo
	SSH      string // SSH_CONNECTION of tcpreap or, without it, of its nearest ancestor that has it; "" for none
	NetNS    NetNS  // "" when it cannot be read
}

// Who returns the operator of this process.
func Who() Operator {
	op := Operator{UID: os.Getuid(), SudoUser: os.Getenv("SUDO_USER"), SSH: ancestorEnv("SSH_CONNECTION")}
	if u, err := user.LookupId(strconv.Itoa(op.UID)); err == nil {
		op.User = u.Username
	}
	if id, err := Here(); err == nil {
		op.NetNS = id.NetNS
	}
	return op
}
