package host_test

import (
	"fmt"

	"github.com/tcpreap/tcpreap/host"
)

// The SSH connection a session runs under, as SSH_CONNECTION names it.
func ExampleParseSSHConnection() {
	c, err := host.ParseSSHConnection("192.0.2.9 50022 192.0.2.1 22")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("client", c.Client, "server", c.Server)
	// Output: client 192.0.2.9:50022 server 192.0.2.1:22
}

// Where a plan file is made: the boot and the network namespace.
func ExampleHere() {
	id, err := host.Here()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id.BootID != "", id.NetNS != "")
	// Output: true true
}
