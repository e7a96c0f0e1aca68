package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func servicesFile(t *testing.T, content string) *Services {
	t.Helper()
	path := filepath.Join(t.TempDir(), "services")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return NewServices(path)
}

func TestServices(t *testing.T) {
	db := servicesFile(t, "# comment\npostgresql\t5432/tcp\tpostgres\t# PostgreSQL\nsyslog\t514/udp\nhttp 80/tcp www # web\nbroken\ndomain 53/tcp\ndomain 53/udp\nbad 99999/tcp\n")
	for _, tt := range []struct {
		name      string
		protocols []string
		port      uint16
		err       string
	}{
		{"postgresql", []string{"tcp"}, 5432, ""},
		{"Postgres", []string{"tcp"}, 5432, ""},
		{"www", []string{"tcp"}, 80, ""},
		{"syslog", []string{"udp"}, 514, ""},
		{"syslog", []string{"tcp", "udp"}, 514, ""},
		{"domain", []string{"udp"}, 53, ""},
		{"syslog", []string{"tcp"}, 0, `service "syslog" has no tcp port in `},
		{"dcd", []string{"tcp"}, 0, `unknown service "dcd" (not in `},
		{"bad", []string{"tcp"}, 0, `unknown service "bad"`},
	} {
		port, err := db.Port(tt.name, tt.protocols...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasSuffix(err.Error(), "give the port number") {
				t.Errorf("Port(%q, %v) error %v, want %q", tt.name, tt.protocols, err, tt.err)
			}
			continue
		}
		if err != nil || port != tt.port {
			t.Errorf("Port(%q, %v) = %d, %v; want %d", tt.name, tt.protocols, port, err, tt.port)
		}
	}
}

func TestServicesMissingFile(t *testing.T) {
	db := NewServices(filepath.Join(t.TempDir(), "none"))
	if _, err := db.Port("http", "tcp"); err == nil || !strings.Contains(err.Error(), "this host has no") {
		t.Fatalf("error %v", err)
	}
}

func TestServicesTooLarge(t *testing.T) {
	db := servicesFile(t, strings.Repeat("# padding\n", servicesLimit/10+1))
	if _, err := db.Port("http", "tcp"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v, want the file refused as too large", err)
	}
}
