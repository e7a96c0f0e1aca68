# tcpreap: `sudo make demo` builds it and shows the whole job in a network
# namespace of its own (it installs only iproute2 and netbase when they are
# missing); `sudo make test` runs every test (integration tests need root:
# they make their own network namespaces; make deps installs their tools). `sudo make install`
# installs the static binary, tcpreap(8) and the bash, zsh and fish
# completions under PREFIX (/usr/local; DESTDIR stages them), `make uninstall`
# removes them, and `make package` builds a .deb and an .rpm of the same files
# in dist/.

GO  ?= go
BIN := bin/tcpreap
# The packages that build, and whose unit tests compile, off Linux: a
# contributor on a laptop can work on them. They are every package with unit
# tests ("." is the module root's test of the import arrows): make unit runs
# them.
PORTABLE := . ./inet/... ./sockdiag/... ./sockbpf/... ./kill/... ./sockfd/... ./sockpacket/... ./planfile/... ./host/... ./census/... ./doctor/... ./flows/... ./reap/... ./watch/... ./cmd/...

.PHONY: build demo test unit integration bench lint deps demo-deps clean release install uninstall package generate image dashboard-picture

# A tree from git archive (a release tarball) has no .git: git archive wrote
# into packaging/archive-version (export-subst, .gitattributes) what git
# describe and rev-parse say; in a checkout its fields are unexpanded, and empty
# here.
archive     = $(shell sed -n 's/^$(1): \([^$$]\{1,\}\)$$/\1/p' packaging/archive-version 2>/dev/null)
ARCHIVEDESC := $(or $(call archive,describe),$(call archive,hash))
# The version and commit that tcpreap --version prints.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo $(or $(ARCHIVEDESC),devel))
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo $(or $(call archive,commit),unknown))
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tcpreap

# Where make install puts things. tcpreap goes to sbin, with the tools of the
# system's administrator (ss, ip): destroying a socket needs CAP_NET_ADMIN.
# Each shell's completion goes where that shell looks under PREFIX; zsh's
# differs between distributions (Debian: vendor-completions under /usr, but
# site-functions under /usr/local; Fedora: site-functions), hence ZSHCOMPDIR.
PREFIX      ?= /usr/local
DESTDIR     ?=
SBINDIR     := $(PREFIX)/sbin
MAN8DIR     := $(PREFIX)/share/man/man8
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR := $(PREFIX)/share/fish/vendor_completions.d
# The hook scripts of deploy/ (keepalived, NetworkManager's dispatcher), for an
# administrator to name in keepalived.conf or copy into dispatcher.d: installed
# there, they would cut connections on every host that has the package.
HOOKDIR     := $(PREFIX)/lib/tcpreap
# The license, under the name Debian's policy gives it; the .rpm puts it where
# RPM-based distributions keep licenses, LICENSEFILE=/usr/share/licenses/tcpreap/LICENSE.
LICENSEFILE ?= $(PREFIX)/share/doc/tcpreap/copyright

# The release: a static binary (no cgo: it runs on any Linux of its
# architecture) without this machine's paths in it, stripped (-s -w: no
# symbol table or DWARF; a panic's stack trace still names its functions),
# and what it writes of
# itself: the manual (gzipped, as packages have it) and the completions.
RELEASE ?= bin/release
release:
	rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(RELEASE)/tcpreap ./cmd/tcpreap
	$(RELEASE)/tcpreap man > $(RELEASE)/tcpreap.8
	gzip -9n $(RELEASE)/tcpreap.8
	for sh in bash zsh fish; do $(RELEASE)/tcpreap completion $$sh > $(RELEASE)/tcpreap.$$sh || exit 1; done

install: release
	install -D -m 0755 $(RELEASE)/tcpreap "$(DESTDIR)$(SBINDIR)/tcpreap"
	install -D -m 0644 $(RELEASE)/tcpreap.8.gz "$(DESTDIR)$(MAN8DIR)/tcpreap.8.gz"
	install -D -m 0644 $(RELEASE)/tcpreap.bash "$(DESTDIR)$(BASHCOMPDIR)/tcpreap"
	install -D -m 0644 $(RELEASE)/tcpreap.zsh "$(DESTDIR)$(ZSHCOMPDIR)/_tcpreap"
	install -D -m 0644 $(RELEASE)/tcpreap.fish "$(DESTDIR)$(FISHCOMPDIR)/tcpreap.fish"
	install -D -m 0644 LICENSE "$(DESTDIR)$(LICENSEFILE)"
	install -D -m 0755 deploy/keepalived/tcpreap-keepalived "$(DESTDIR)$(HOOKDIR)/tcpreap-keepalived"
	install -D -m 0755 deploy/networkmanager/90-tcpreap "$(DESTDIR)$(HOOKDIR)/90-tcpreap"

# DESTDIR and PREFIX are quoted: a staging directory may have a space in it.
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/tcpreap" "$(DESTDIR)$(MAN8DIR)/tcpreap.8.gz" \
	  "$(DESTDIR)$(BASHCOMPDIR)/tcpreap" "$(DESTDIR)$(ZSHCOMPDIR)/_tcpreap" "$(DESTDIR)$(FISHCOMPDIR)/tcpreap.fish" \
	  "$(DESTDIR)$(LICENSEFILE)" "$(DESTDIR)$(HOOKDIR)/tcpreap-keepalived" "$(DESTDIR)$(HOOKDIR)/90-tcpreap"
	-rmdir "$(DESTDIR)$(dir $(LICENSEFILE))" "$(DESTDIR)$(HOOKDIR)"

# The packages' version: a tag v1.2.3 is 1.2.3, with "+N.gHASH" after it when
# the commit is N past the tag; with no tag, 0.0.0~git.HASH (~ sorts before
# any release).
PKGVERSION ?= $(shell d=$$(git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null || echo $(or $(ARCHIVEDESC),unknown)); \
	case $$d in (v[0-9]*) echo "$$d" | sed 's/^v//; s/-/+/; s/-/./g';; (*) echo "0.0.0~git.$$d" | tr - .;; esac)
PKGARCH ?= $(shell $(GO) env GOARCH)

# A .deb and an .rpm (nfpm, a Go tool of this module) of exactly the files
# make install installs with PREFIX=/usr, staged in dist/stage; each with the
# zsh directory and the license's place of its distributions. Debian's
# Description is the synopsis line, then the long description; RPM has the
# synopsis as its Summary, so its %description is the long one alone: the
# .rpm's configuration is nfpm.yaml without the description's first line.
# (The tests give RELEASE and DIST directories of their own.)
DIST  ?= dist
STAGE := $(abspath $(DIST))/stage
package:
	rm -rf $(DIST)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE)/deb PREFIX=/usr ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE)/rpm PREFIX=/usr ZSHCOMPDIR=/usr/share/zsh/site-functions \
	  LICENSEFILE=/usr/share/licenses/tcpreap/LICENSE
	sed '/^description: |-$$/{n;d;}' packaging/nfpm.yaml > $(STAGE)/nfpm-rpm.yaml
	STAGE=$(STAGE)/deb ZSHCOMPDIR=/usr/share/zsh/vendor-completions PKGVERSION=$(PKGVERSION) PKGARCH=$(PKGARCH) \
	  $(GO) tool nfpm package --config packaging/nfpm.yaml --packager deb --target $(DIST)/
	STAGE=$(STAGE)/rpm ZSHCOMPDIR=/usr/share/zsh/site-functions PKGVERSION=$(PKGVERSION) PKGARCH=$(PKGARCH) \
	  $(GO) tool nfpm package --config $(STAGE)/nfpm-rpm.yaml --packager rpm --target $(DIST)/

# The container image (Containerfile): the release binary alone, FROM scratch,
# built from the release directory with no network, by podman or, where podman
# is missing, buildah (make deps installs buildah). IMAGE names it in the
# tool's local storage; IMAGEARCHIVE is the same image as an OCI archive, to
# load where there is no registry (podman load, skopeo copy, kind load
# image-archive, ctr images import). Its files and its creation time are the
# commit's time (IMAGETIME, seconds since the epoch): the same commit builds
# the same image. IMAGESTORE passes the tool's global options (another --root,
# --storage-driver vfs).
IMAGE        ?= localhost/tcpreap:$(VERSION)
IMAGEARCHIVE ?= bin/tcpreap-image.tar
IMAGETOOL    ?= $(or $(shell command -v podman 2>/dev/null),$(shell command -v buildah 2>/dev/null),podman)
IMAGETIME    ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGESTORE   ?=
image: release
	$(IMAGETOOL) $(IMAGESTORE) build --network none --timestamp $(IMAGETIME) \
	  --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -f Containerfile -t $(IMAGE) $(RELEASE)
	rm -f $(IMAGEARCHIVE) && mkdir -p $(dir $(IMAGEARCHIVE))
	$(IMAGETOOL) $(IMAGESTORE) push $(IMAGE) oci-archive:$(IMAGEARCHIVE):$(IMAGE)

demo: demo-deps build
	$(GO) run ./integration/demo $(BIN)

# deploy/kubernetes is a module of its own: the Kubernetes and Prometheus
# Operator types its tests read the manifests into stay out of tcpreap's.
KUBETEST = cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 ./...

test: deps lint
	$(GO) test -race -count=1 -timeout 12m ./...
	$(KUBETEST)

unit: lint
	$(GO) test -race -count=1 $(PORTABLE)
	$(KUBETEST)

integration: deps
	$(GO) test -count=1 -v ./integration/...

# tcpreap (as make build builds it) against ss -K and a bare-syscall floor of
# our own, on a population of about 190,000 sockets in network namespaces of
# the bench's own (root, Linux 6.0+; a few minutes). It prints a Markdown table
# for docs/performance.md on stdout and its progress on stderr; integration/bench/main.go
# says what it measures.
bench: deps build
	$(GO) build -o bin/floor ./integration/floor
	$(GO) run ./integration/bench -tcpreap $(BIN) -floor bin/floor

# docs/dashboard.png, the picture of the Grafana dashboard
# (deploy/grafana/tcpreap.json) without Grafana: integration/dashboard runs
# tcpreap watch and a Prometheus that scrapes it over leaking applications in
# network namespaces of its own, asks Prometheus for every panel's queries and
# has headless Chromium draw them (root; about five minutes). It installs
# prometheus, chromium and a font from Debian's archive when missing.
dashboard-picture: build
	@missing=""; lean=""; \
	command -v prometheus >/dev/null 2>&1 || lean="$$lean prometheus"; \
	command -v chromium >/dev/null 2>&1 || lean="$$lean chromium"; \
	[ -d /usr/share/fonts/truetype/dejavu ] || lean="$$lean fonts-dejavu-core"; \
	$(apt_install)
	$(GO) run ./integration/dashboard -tcpreap $(BIN) -out docs/dashboard.png

# The bpf engine's programs: sockbpf/destroy.bpf.c compiled by clang into
# the objects that the build embeds, with their Go files (bpf2go), and
# destroy.bpf.sum, which make test checks against them. Neither the build nor
# a run needs clang: only this does (make deps installs it).
generate:
	$(GO) generate ./sockbpf

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt wants to change: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet $(PORTABLE)
	$(GO) tool staticcheck ./...

# apt_install installs the Debian packages the shell variable missing names,
# and those lean names without the packages they recommend, from Debian's
# archive when running as root; without root it names them and fails.
apt_install = if [ -n "$$missing$$lean" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing$$lean (run as root to install them)"; exit 1; fi; \
	  apt-get update -q || exit 1; \
	  if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; fi; \
	  if [ -n "$$lean" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$lean || exit 1; fi; \
	fi

# What the demo drives: ip (iproute2) for its namespaces, ss (iproute2) to
# read their sockets, and /etc/services (netbase) for the service name it
# reaps by. Nothing else.
demo-deps:
	@missing=""; lean=""; \
	command -v ip >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 || missing="$$missing iproute2"; \
	[ -f /etc/services ] || missing="$$missing netbase"; \
	$(apt_install)

# The system tools the integration tests drive: ip and ss (iproute2), setpriv
# (util-linux), /etc/services (netbase), and for the SSH session tests a real
# OpenSSH server run as a plain process in a test namespace (openssh-server:
# sshd; openssh-client: ssh, ssh-keygen), tmux, screen and strace; for the
# router flows tests nft (nftables) and conntrack -L as their oracle
# (conntrack), and tcpdump, whose capture on every interface shows what
# the resets sent; for the deploy/ tests systemd-analyze (systemd) and ansible
# (ansible-core, without the collections it recommends: the recipe needs only
# its command module); for the image test buildah, which builds it, and runc,
# which runs a container of it (without what they recommend: the image needs
# neither a network nor a pull); for the release tests (integration/release_test.go)
# file, man (man-db), the shells whose completions tcpreap installs
# (bash-completion, zsh, fish) and rpm, to read the .rpm that make package
# builds; for make generate, clang, llvm (llvm-strip) and libbpf-dev (the
# BPF helpers' headers). Installed from Debian's archive when missing and
# when running as root.
#
# The openssh-server package would start the system's sshd and enable it at
# boot, listening on port 22 in the host's namespace: the tests need only its
# binary. When make deps installs it (and only then: an sshd that was there
# before is left as it was), a policy-rc.d that refuses every start (101)
# keeps invoke-rc.d and deb-systemd-invoke from starting it while it installs
# (an existing policy-rc.d is left as it is); /etc/ssh/sshd_not_to_be_run,
# which Debian's init script and ssh.service both check, keeps it from
# starting later; and systemctl disables ssh.service and ssh.socket, which the
# package enabled (a later upgrade of the package keeps them disabled). To run
# a system sshd on purpose: rm /etc/ssh/sshd_not_to_be_run && systemctl
# enable --now ssh.
deps:
	@missing=""; lean=""; \
	command -v ip >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v setpriv >/dev/null 2>&1 || missing="$$missing util-linux"; \
	[ -f /etc/services ] || missing="$$missing netbase"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v screen >/dev/null 2>&1 || missing="$$missing screen"; \
	command -v strace >/dev/null 2>&1 || missing="$$missing strace"; \
	[ -x /usr/sbin/nft ] || missing="$$missing nftables"; \
	[ -x /usr/sbin/conntrack ] || missing="$$missing conntrack"; \
	command -v tcpdump >/dev/null 2>&1 || missing="$$missing tcpdump"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v ansible >/dev/null 2>&1 || lean="$$lean ansible-core"; \
	command -v buildah >/dev/null 2>&1 || lean="$$lean buildah"; \
	command -v runc >/dev/null 2>&1 || lean="$$lean runc"; \
	command -v file >/dev/null 2>&1 || missing="$$missing file"; \
	command -v man >/dev/null 2>&1 || missing="$$missing man-db"; \
	[ -f /usr/share/bash-completion/bash_completion ] || missing="$$missing bash-completion"; \
	command -v zsh >/dev/null 2>&1 || missing="$$missing zsh"; \
	command -v fish >/dev/null 2>&1 || missing="$$missing fish"; \
	command -v rpm >/dev/null 2>&1 || missing="$$missing rpm"; \
	command -v clang >/dev/null 2>&1 || missing="$$missing clang"; \
	command -v llvm-strip >/dev/null 2>&1 || missing="$$missing llvm"; \
	[ -f /usr/include/bpf/bpf_helpers.h ] || missing="$$missing libbpf-dev"; \
	sshd=""; case "$$missing" in *openssh-server*) sshd=new;; esac; \
	if [ -n "$$sshd" ] && [ "$$(id -u)" = 0 ]; then \
	  mkdir -p /etc/ssh && touch /etc/ssh/sshd_not_to_be_run; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
	    printf '#!/bin/sh\n# make deps: no service starts while the test tools install\nexit 101\n' >/usr/sbin/policy-rc.d; \
	    chmod 755 /usr/sbin/policy-rc.d; \
	  fi; \
	fi; \
	$(apt_install); \
	if [ -n "$$sshd" ] && command -v systemctl >/dev/null 2>&1; then \
	  systemctl disable --quiet ssh.service ssh.socket || { echo "make deps: could not disable ssh.service; run: systemctl disable ssh.service ssh.socket"; exit 1; }; \
	fi

clean:
	rm -rf bin dist
