// The container image: make image builds it with no network (in a test namespace that
// has no route out), its root file system as exported (an OCI archive) holds exactly the
// release binary, which runs, from the archive's files and in a container of the image.

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// imageBinary is where the image holds tcpreap, and its entrypoint.
const imageBinary = "/tcpreap"

// TestIntegrationImage: make image, run in a network namespace of the test's own (no route
// out of it, only its veth towards the test's peer), builds the image from the release
// directory into a store of the test's own and exports it; the archive's one layer holds one
// file, /tcpreap (0755), the very release binary, and the image's entrypoint is it. That
// binary prints the stamped version, and so does a container of the image (buildah run,
// with runc and no network). A second build of the same commit is the same image.
func TestIntegrationImage(t *testing.T) {
	e := setup(t)
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Fatal("buildah is missing: make deps installs it")
	}
	work := t.TempDir()
	release := filepath.Join(work, "release")
	archive := filepath.Join(work, "image.tar")
	store := "--root " + filepath.Join(work, "store") + " --runroot " + filepath.Join(work, "run") + " --storage-driver vfs"
	const image = "localhost/tcpreap:integration"

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.Local.Command(ctx, "make", "--no-print-directory", "-C", "..", "image", "IMAGETOOL=buildah",
		"IMAGESTORE="+store, "IMAGE="+image, "IMAGEARCHIVE="+archive, "RELEASE="+release,
		"VERSION="+releaseVersion, "COMMIT="+releaseCommit)
	cmd.Env = append(cmd.Env, "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image in %s (no network): %v\n%s", e.Local.Name, err, out)
	}

	config, files := readOCIArchive(t, archive)
	if !slices.Equal(config.Config.Entrypoint, []string{imageBinary}) {
		t.Errorf("the image's entrypoint is %v, want [%s]", config.Config.Entrypoint, imageBinary)
	}
	if v := config.Config.Labels["org.opencontainers.image.version"]; v != releaseVersion {
		t.Errorf("the image's version label is %q, want %q", v, releaseVersion)
	}
	if len(files) != 1 || files[0].name != imageBinary || files[0].mode != 0o755 {
		var got []string
		for _, f := range files {
			got = append(got, f.name+" "+f.mode.String())
		}
		t.Fatalf("the image's root file system holds %v, want only %s -rwxr-xr-x", got, imageBinary)
	}
	built, err := os.ReadFile(filepath.Join(release, "tcpreap"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files[0].data, built) {
		t.Errorf("the image's %s is not the release binary", imageBinary)
	}

	want := "tcpreap version " + releaseVersion + " (commit " + releaseCommit + ")\n"
	exported := filepath.Join(work, "rootfs-tcpreap")
	if err := os.WriteFile(exported, files[0].data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out := command(t, nil, exported, "--version"); out != want {
		t.Errorf("the image's binary printed %q, want %q", out, want)
	}

	t.Run("reproducible", func(t *testing.T) {
		// The same commit, built again (here with network, into another store): the same
		// image, to the digest of its manifest.
		again := filepath.Join(t.TempDir(), "image.tar")
		makeRelease(t, "image", "IMAGETOOL=buildah", "IMAGE="+image, "IMAGEARCHIVE="+again,
			"IMAGESTORE=--root "+filepath.Join(t.TempDir(), "store")+" --runroot "+filepath.Join(t.TempDir(), "run")+" --storage-driver vfs")
		if a, b := manifestDigest(t, archive), manifestDigest(t, again); a != b {
			t.Errorf("two builds of the same commit: manifests %s and %s", a, b)
		}
	})

	t.Run("container", func(t *testing.T) {
		buildah := func(args ...string) string {
			return command(t, nil, "buildah", append(strings.Fields(store), args...)...)
		}
		ctr := strings.TrimSpace(buildah("from", "--pull-never", image))
		defer buildah("rm", ctr)
		// runc: crun refuses a machine whose cgroups are mounted both ways (v1 and v2).
		if out := buildah("run", "--runtime", "runc", "--network", "none", ctr, "--", imageBinary, "--version"); out != want {
			t.Errorf("a container of the image printed %q, want %q", out, want)
		}
	})
}

// manifestDigest is the digest of the one image's manifest in an OCI archive.
func manifestDigest(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no index.json: %v", archive, err)
		}
		if path.Clean(h.Name) == "index.json" {
			var index struct{ Manifests []struct{ Digest string } }
			if err := json.NewDecoder(tr).Decode(&index); err != nil || len(index.Manifests) != 1 {
				t.Fatalf("%s: index.json: %v, %d manifests", archive, err, len(index.Manifests))
			}
			return index.Manifests[0].Digest
		}
	}
}

// imageConfig is what the test reads of an OCI image's configuration.
type imageConfig struct {
	Config struct {
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

// imageFile is a regular file of an image's layers.
type imageFile struct {
	name string
	mode os.FileMode
	data []byte
}

// readOCIArchive reads an OCI archive (an image layout in a tar) of one image: its
// configuration and the regular files of its layers, in order. A layer entry that is
// neither a regular file nor a directory fails the test.
func readOCIArchive(t *testing.T, archive string) (imageConfig, []imageFile) {
	t.Helper()
	blobs := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			blobs[path.Clean(h.Name)] = b
		}
	}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	blob := func(d descriptor) []byte {
		algo, hex, _ := strings.Cut(d.Digest, ":")
		b, ok := blobs["blobs/"+algo+"/"+hex]
		if !ok {
			t.Fatalf("%s: no blob %s", archive, d.Digest)
		}
		return b
	}
	decode := func(b []byte, v any) {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
	}
	var index struct{ Manifests []descriptor }
	decode(blobs["index.json"], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("%s holds %d images, want 1", archive, len(index.Manifests))
	}
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	decode(blob(index.Manifests[0]), &manifest)
	var config imageConfig
	decode(blob(manifest.Config), &config)

	var files []imageFile
	for _, l := range manifest.Layers {
		var r io.Reader = bytes.NewReader(blob(l))
		if strings.HasSuffix(l.MediaType, "+gzip") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		lr := tar.NewReader(r)
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch h.Typeflag {
			case tar.TypeDir:
			case tar.TypeReg:
				b, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, imageFile{"/" + strings.TrimPrefix(path.Clean(h.Name), "/"), h.FileInfo().Mode().Perm(), b})
			default:
				t.Errorf("a layer holds %s, of type %q: neither a file nor a directory", h.Name, h.Typeflag)
			}
		}
	}
	return config, files
}
