package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

func TestDigitFlags(t *testing.T) {
	const groupable = "46tunqype"
	tests := []struct{ in, want []string }{
		{[]string{"tcpreap", "-4", "list"}, []string{"tcpreap", "--4", "list"}},
		{[]string{"tcpreap", "-6t", "--state", "all"}, []string{"tcpreap", "--6", "--t", "--state", "all"}},
		{[]string{"tcpreap", "--", "-4"}, []string{"tcpreap", "--", "-4"}},
		{[]string{"tcpreap", "-t4"}, []string{"tcpreap", "-t4"}},
		{[]string{"tcpreap", "-42.5"}, []string{"tcpreap", "-42.5"}},
		{[]string{"tcpreap", "-4x"}, []string{"tcpreap", "-4x"}},
	}
	for _, tt := range tests {
		if got := digitFlags(tt.in, groupable); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("digitFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShortBoolFlags: the letters that may be grouped come from the flag
// definitions: every one-letter boolean flag of every command.
func TestShortBoolFlags(t *testing.T) {
	got := shortBoolFlags(newApp(nil, streams{}))
	for _, c := range "46tunqype" {
		if !strings.ContainsRune(got, c) {
			t.Errorf("shortBoolFlags = %q, lacks %q", got, c)
		}
	}
	if len(got) != len("46tunqype") {
		t.Errorf("shortBoolFlags = %q, want the letters of 46tunqype", got)
	}
}

// TestLocalKeepsEveryFlagType: keepLocal must keep a root option of any type
// urfave/cli has to the root, or a subcommand would take it and ignore it.
func TestLocalKeepsEveryFlagType(t *testing.T) {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "b"}, &cli.StringFlag{Name: "s"}, &cli.IntFlag{Name: "i"}, &cli.Int64Flag{Name: "i64"},
		&cli.UintFlag{Name: "u"}, &cli.FloatFlag{Name: "f"}, &cli.DurationFlag{Name: "d"}, &cli.TimestampFlag{Name: "ts"},
		&cli.StringSliceFlag{Name: "ss"}, &cli.IntSliceFlag{Name: "is"}, &cli.StringMapFlag{Name: "sm"},
		&cli.GenericFlag{Name: "g"}, &cli.BoolWithInverseFlag{Name: "bi"},
	}
	keepLocal(flags)
	for _, f := range flags {
		lf, ok := f.(cli.LocalFlag)
		if !ok || !lf.IsLocal() {
			t.Errorf("%T is not local after keepLocal()", f)
		}
	}
	// And every option of the root is refused by a subcommand, whatever its
	// type: none is silently ignored.
	app := newApp(nil, streams{})
	for _, f := range app.Flags {
		if lf, ok := f.(cli.LocalFlag); !ok || !lf.IsLocal() {
			t.Errorf("root option --%s is not kept to the root", f.Names()[0])
		}
	}
}
