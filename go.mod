module github.com/tcpreap/tcpreap

go 1.26.8

require (
	github.com/mdlayher/netlink v1.11.2
	github.com/urfave/cli/v3 v3.14.0
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.49.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	golang.org/x/net v0.53.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)
