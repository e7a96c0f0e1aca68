// The release: make install and make package, and what they install: a static binary that
// stamps its version and destroys in a namespace of the test's own, a manual man renders
// without a warning, completions each shell loads from where they are installed and that
// complete, and a .deb and an .rpm holding exactly the files make install installs.

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// The version and commit the tests stamp, to see them come out of --version.
const (
	releaseVersion = "9.8.7-test"
	releaseCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// The files make install installs with PREFIX=/usr, each with its mode; zsh's completion
// goes to ZSHCOMPDIR, site-functions unless told, and the license to LICENSEFILE, Debian's
// copyright file unless told.
func installedFiles(zshDir string, license ...string) map[string]fs.FileMode {
	files := map[string]fs.FileMode{
		"/usr/sbin/tcpreap":                                 0o755,
		"/usr/share/man/man8/tcpreap.8.gz":                  0o644,
		"/usr/share/bash-completion/completions/tcpreap":    0o644,
		zshDir + "/_tcpreap":                                0o644,
		"/usr/share/fish/vendor_completions.d/tcpreap.fish": 0o644,
		"/usr/share/doc/tcpreap/copyright":                  0o644,
		"/usr/lib/tcpreap/tcpreap-keepalived":               0o755,
		"/usr/lib/tcpreap/90-tcpreap":                       0o755,
	}
	for _, l := range license {
		delete(files, "/usr/share/doc/tcpreap/copyright")
		files[l] = 0o644
	}
	return files
}

// rpmLicense is where the .rpm puts the license: where RPM-based distributions keep
// licenses, marked %license.
const rpmLicense = "/usr/share/licenses/tcpreap/LICENSE"

// TestIntegrationInstall: make install DESTDIR=… PREFIX=/usr installs the files it says,
// a static binary that prints its stamped version and really destroys, a manual and the
// three completions; make uninstall removes them.
func TestIntegrationInstall(t *testing.T) {
	e := setup(t)
	// A staging directory with a space in its name, as a packager's may have.
	dest := filepath.Join(t.TempDir(), "stage dir")
	makeRelease(t, "install", "DESTDIR="+dest, "PREFIX=/usr")
	if got, want := treeFiles(t, dest), installedFiles("/usr/share/zsh/site-functions"); !maps.Equal(got, want) {
		t.Fatalf("make install installed %v, want %v", got, want)
	}
	tcpreap := filepath.Join(dest, "usr/sbin/tcpreap")

	t.Run("static binary", func(t *testing.T) {
		if out := command(t, nil, "file", tcpreap); !strings.Contains(out, "statically linked") {
			t.Errorf("file says %q: not a static binary", out)
		} else if !strings.Contains(out, ", stripped") {
			// As a distribution ships a binary (lintian: unstripped-binary-or-object).
			t.Errorf("file says %q: the binary has its symbol table and debug information", out)
		}
		want := "tcpreap version " + releaseVersion + " (commit " + releaseCommit + ")\n"
		if out := command(t, nil, tcpreap, "--version"); out != want {
			t.Errorf("--version printed %q, want %q", out, want)
		}
		// The installed binary does the job: it destroys a connection with the peer, and
		// the kernel no longer has it.
		e := e.sub(t)
		l := e.listenV4()
		p := e.inbound(l, peer)
		r := e.decode(e.run(e.Local, tcpreap, "-y", "--json", testnet.PeerV4.String()), 0)
		expectRecords(t, r, "killed", tcp("inbound", p))
		expectGone(t, e.sockets(), tcp("inbound", p))
	})

	t.Run("man page", func(t *testing.T) {
		page := filepath.Join(dest, "usr/share/man/man8/tcpreap.8.gz")
		// At 80 columns, a terminal's least: every line fits, the examples' too.
		out := command(t, []string{"MANWIDTH=80"}, "man", "--warnings", "-l", page)
		for _, line := range strings.Split(out, "\n") {
			// groff's warnings ("troff: <standard input>:12: warning: …") and man's own.
			if strings.Contains(line, "warning") || strings.HasPrefix(line, "man:") || strings.Contains(line, "troff:") {
				t.Errorf("man: %s", line)
			}
			if n := len([]rune(line)); n > 80 {
				t.Errorf("a line of %d columns: %q", n, line)
			}
		}
		for _, want := range []string{"TCPREAP(8)", "SYNOPSIS", "tcpreap list [options] [PEER...]", "tcpreap apply [options] PLAN-FILE",
			"Also called ls.", "tcpreap conntrack list [options] [PEER...]", "--state S[,S]", "--remote-port P[,P], --dport P[,P]", "--dry-run, -n", "EXIT STATUS",
			"tcpreap -n 192.0.2.0/24", "SEE ALSO", "ss(8)", "tcpreap " + releaseVersion} {
			if !strings.Contains(out, want) {
				t.Errorf("the man page has no %q:\n%s", want, out)
			}
		}
	})

	// Each shell finds the completion where make install put it, as it finds the
	// completions of any installed command, and completes with it.
	home := t.TempDir()
	shellEnv := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/config", "XDG_DATA_HOME=" + home + "/data",
		"XDG_DATA_DIRS=" + filepath.Join(dest, "usr/share"), "PATH=" + filepath.Join(dest, "usr/sbin") + ":" + os.Getenv("PATH")}
	completes := []struct {
		line string // what is typed before the Tab
		want string // one of the words offered
		not  string // a word that must not be offered, or ""
	}{
		{"tcpreap --sta", "--state", ""},
		{"tcpreap li", "list", ""},
		{"tcpreap list --state close_w", "close_wait", ""},
		{"tcpreap apply --wor", "--workers", ""},
		{"tcpreap completion ", "fish", ""},
		// conntrack's states are conntrack's, and its command list is completed, with
		// options of its own.
		{"tcpreap conntrack --state syn_s", "syn_sent2", ""},
		{"tcpreap conntrack --state ", "fin_wait", "listen"},
		{"tcpreap conntrack li", "list", ""},
		{"tcpreap conntrack list --state fin", "fin_wait", "fin_wait1"},
		{"tcpreap conntrack list --rep", "--reply-src", ""},
	}

	t.Run("bash", func(t *testing.T) {
		for _, c := range completes {
			words := strings.Fields(c.line)
			if strings.HasSuffix(c.line, " ") {
				words = append(words, "")
			}
			script := `source /usr/share/bash-completion/bash_completion
__load_completion tcpreap || exit 1
complete -p tcpreap
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_tcpreap tcpreap "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
			out := command(t, shellEnv, "bash", append([]string{"-c", script, "bash"}, words...)...)
			got := strings.Split(out, "\n")
			if !strings.HasPrefix(out, "complete -o default -F _tcpreap tcpreap\n") || !slices.Contains(got, c.want) || (c.not != "" && slices.Contains(got, c.not)) {
				t.Errorf("bash completes %q to:\n%s\nwant %q among them, and not %q", c.line, out, c.want, c.not)
			}
		}
	})

	t.Run("zsh", func(t *testing.T) {
		fpath := filepath.Join(dest, "usr/share/zsh/site-functions")
		for _, c := range completes {
			if got := zshCompletes(t, shellEnv, fpath, c.line); !slices.Contains(got, c.want) || (c.not != "" && slices.Contains(got, c.not)) {
				t.Errorf("zsh completes %q to %q, want %q among them, and not %q", c.line, got, c.want, c.not)
			}
		}
	})

	t.Cleanup(func() {
		// Last, after the subtests: make uninstall takes back every file.
		makeRelease(t, "uninstall", "DESTDIR="+dest, "PREFIX=/usr")
		if left := treeFiles(t, dest); len(left) > 0 {
			t.Errorf("make uninstall left %v", left)
		}
	})

	t.Run("fish", func(t *testing.T) {
		for _, c := range completes {
			out := command(t, shellEnv, "fish", "-c", `complete --do-complete="$argv[1]"`, c.line)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				word, _, _ := strings.Cut(line, "\t")
				got = append(got, word)
			}
			if !slices.Contains(got, c.want) || (c.not != "" && slices.Contains(got, c.not)) {
				t.Errorf("fish completes %q to %q, want %q among them, and not %q", c.line, got, c.want, c.not)
			}
		}
	})
}

// zshComplete types line and a Tab into an interactive zsh on a terminal (zpty) whose
// completion system finds tcpreap's in fpath, and returns the words the completion offered:
// a compadd of its own notes them in a file. Every wait has a deadline.
const zshComplete = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -d ${(q)2}"
zpty -w z 'compadd () { local -a __h; builtin compadd -O __h "$@"; local h; for h in $__h; do print -r -- $h; done >>'${(q)3}'; builtin compadd "$@" }'
zpty -wn z "$4"$'\t'
for i in {1..100}; do [[ -s $3 ]] && break; sleep 0.1; done
zpty -wn z $'\C-u'
zpty -w z "print M''ARK"
zpty -r z line '*MARK*'
zpty -d z
`

func zshCompletes(t *testing.T, env []string, fpath, line string) []string {
	t.Helper()
	dir := t.TempDir()
	words := filepath.Join(dir, "words")
	command(t, env, "zsh", "-f", "-c", zshComplete, "zsh", fpath, filepath.Join(dir, "zcompdump"), words, line)
	out, err := os.ReadFile(words)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// TestIntegrationPackage: make package builds a .deb and an .rpm that hold exactly what make
// install installs with PREFIX=/usr (zsh's completion where each distribution's zsh looks),
// byte for byte, with the package's metadata. Nothing is installed on this machine: the
// .deb is unpacked into a directory of the test's own, the .rpm only queried.
func TestIntegrationPackage(t *testing.T) {
	t.Parallel()
	dist := filepath.Join(t.TempDir(), "dist")
	makeRelease(t, "package", "DIST="+dist)
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package made .deb %q and .rpm %q, want one of each", debs, rpms)
	}

	t.Run("deb", func(t *testing.T) {
		want := t.TempDir()
		makeRelease(t, "install", "DESTDIR="+want, "PREFIX=/usr", "ZSHCOMPDIR=/usr/share/zsh/vendor-completions")
		got := t.TempDir()
		command(t, nil, "dpkg-deb", "-x", debs[0], got)
		if g, w := treeFiles(t, got), installedFiles("/usr/share/zsh/vendor-completions"); !maps.Equal(g, w) {
			t.Errorf("the .deb holds %v, make install installs %v", g, w)
		}
		for name := range installedFiles("/usr/share/zsh/vendor-completions") {
			if g, w := digest(t, filepath.Join(got, name)), digest(t, filepath.Join(want, name)); g != w {
				t.Errorf("%s differs in the .deb from what make install installs", name)
			}
		}
		fields := command(t, nil, "dpkg-deb", "--field", debs[0], "Package", "Version", "Section", "Maintainer", "Homepage", "Description")
		for _, want := range []string{"Package: tcpreap\n", "Section: net\n", "Homepage: https://", "Maintainer: ", "Description: find and destroy"} {
			if !strings.Contains(fields, want) {
				t.Errorf("the .deb's control has no %q:\n%s", want, fields)
			}
		}
	})

	t.Run("rpm", func(t *testing.T) {
		want := t.TempDir()
		makeRelease(t, "install", "DESTDIR="+want, "PREFIX=/usr", "ZSHCOMPDIR=/usr/share/zsh/site-functions", "LICENSEFILE="+rpmLicense)
		// rpm --dump: path size mtime sha256 mode owner group …, one file a line.
		got := map[string]fs.FileMode{}
		dump := command(t, nil, "rpm", "--query", "--package", "--dump", rpms[0])
		for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 {
				t.Fatalf("rpm --dump line %q", line)
			}
			var mode uint32
			for _, d := range f[4] {
				mode = mode*8 + uint32(d-'0')
			}
			got[f[0]] = fs.FileMode(mode & 0o777)
			if w := digest(t, filepath.Join(want, f[0])); f[3] != w {
				t.Errorf("%s differs in the .rpm (sha256 %s) from what make install installs (%s)", f[0], f[3], w)
			}
		}
		if w := installedFiles("/usr/share/zsh/site-functions", rpmLicense); !maps.Equal(got, w) {
			t.Errorf("the .rpm holds %v, make install installs %v", got, w)
		}
		info := command(t, nil, "rpm", "--query", "--package", "--queryformat", "%{NAME} %{LICENSE} %{URL}\n", rpms[0])
		if !strings.HasPrefix(info, "tcpreap Apache-2.0 https://") {
			t.Errorf("the .rpm says %q, want tcpreap, Apache-2.0 and its home page", info)
		}
		if got := command(t, nil, "rpm", "--query", "--package", "--licensefiles", rpms[0]); got != rpmLicense+"\n" {
			t.Errorf("the .rpm's %%license files are %q, want %s", got, rpmLicense)
		}
		// The summary is the synopsis; the description goes on from it, without it.
		summary := command(t, nil, "rpm", "--query", "--package", "--queryformat", "%{SUMMARY}", rpms[0])
		desc := command(t, nil, "rpm", "--query", "--package", "--queryformat", "%{DESCRIPTION}", rpms[0])
		if !strings.HasPrefix(summary, "find and destroy") || strings.Contains(desc, summary) || !strings.HasPrefix(desc, "tcpreap finds") {
			t.Errorf("the .rpm's summary is %q and its description %q: want the synopsis, then the long description alone", summary, desc)
		}
	})
}

// makeRelease runs make target in the module's root with the test's version and commit,
// building in a directory of the test's own (RELEASE), so that tests run side by side.
func makeRelease(t *testing.T, target string, vars ...string) {
	t.Helper()
	args := append([]string{"--no-print-directory", "-C", "..", target, "RELEASE=" + filepath.Join(t.TempDir(), "release"),
		"VERSION=" + releaseVersion, "COMMIT=" + releaseCommit}, vars...)
	// Not the make that runs the tests (make test): its flags and jobserver are not ours.
	command(t, []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}, "make", args...)
}

// command runs a program with env added to the test's environment, for at most five minutes
// (on a fresh machine, make package first downloads and builds nfpm), requires exit 0 and
// returns its stdout with stderr after it.
func command(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// treeFiles lists the regular files under root, as paths from root, each with its mode; a
// file of another kind fails the test.
func treeFiles(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	files := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			t.Errorf("%s is not a regular file: %v", path, info.Mode())
		}
		files["/"+strings.TrimPrefix(path, root+"/")] = info.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func digest(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := bufio.NewReader(f).WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestIntegrationArchive: a release tarball (git archive, no .git in it) builds a tcpreap
// stamped with the commit it was made of, and packages of that version, as a checkout does.
func TestIntegrationArchive(t *testing.T) {
	t.Parallel()
	// The working tree as a commit (git stash create leaves the tree and the index alone;
	// it prints nothing when the tree is clean: then HEAD).
	commit := strings.TrimSpace(command(t, nil, "git", "-C", "..", "stash", "create"))
	if commit == "" {
		commit = strings.TrimSpace(command(t, nil, "git", "-C", "..", "rev-parse", "HEAD"))
	}
	version := strings.TrimSpace(command(t, nil, "git", "-C", "..", "describe", "--tags", "--always", "--match", "v[0-9]*", commit))
	src := t.TempDir()
	archive := filepath.Join(t.TempDir(), "tcpreap.tar")
	command(t, nil, "git", "-C", "..", "archive", "-o", archive, commit)
	command(t, nil, "tar", "-x", "-C", src, "-f", archive)
	if _, err := os.Stat(filepath.Join(src, ".git")); !os.IsNotExist(err) {
		t.Fatalf("the archive has a .git: %v", err)
	}
	dest := t.TempDir()
	command(t, []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}, "make", "--no-print-directory", "-C", src, "install",
		"DESTDIR="+dest, "PREFIX=/usr")
	want := "tcpreap version " + version + " (commit " + commit + ")\n"
	if out := command(t, nil, filepath.Join(dest, "usr/sbin/tcpreap"), "--version"); out != want {
		t.Errorf("built from a git archive, --version printed %q, want %q", out, want)
	}
	out := command(t, []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}, "make", "--no-print-directory", "-C", src, "-s",
		"--eval", "print-pkgversion: ; @echo $(PKGVERSION)", "print-pkgversion")
	if got := strings.TrimSpace(out); strings.Contains(got, "unknown") || !strings.Contains(got, version) {
		t.Errorf("built from a git archive, the packages' version is %q, want one made of %q", got, version)
	}
}
