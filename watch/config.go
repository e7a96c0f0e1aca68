package watch

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/reap"
	"go.yaml.in/yaml/v3"
)

// A Config is the policies watch applies, read and checked by Load.
type Config struct {
	Policies []*Policy
}

// A Policy is one rule of the config: which sockets (in the one-shot
// command's words), what to do with them each interval, at most how many,
// and at what pace.
type Policy struct {
	Name string
	// Words are the selection and the pace as the one-shot command line
	// says them: --state=close_wait --idle=2s --rate=50/s … -- 192.0.2.1.
	Words []string
	// Selection is Words, parsed by the caller's Selector.
	Selection *reap.Selection
	Action    Action
	// Max is the ceiling of a reap per interval: a plan of more targets
	// destroys nothing.
	Max int
	// Longest is the longest a reap may take at its pace: its spread, or
	// Max sockets at its rate; 0 when it is not paced.
	Longest time.Duration
	// pace is the pace as written, for the sentences.
	pace string
}

// An Action is what a policy does with the sockets it matches.
type Action string

// The actions.
const (
	Report Action = "report" // count them and log them; destroy nothing
	Reap   Action = "reap"   // destroy them, through the one act path
)

// paceKeys are the keys of a policy that set the pace of its reap, each the
// one-shot command's option of that name: rate (--rate N/s), spread
// (--spread DURATION) and order (--order).
var paceKeys = []string{"rate", "spread", "order"}

// A Selector parses a policy's words (options and PEERs, as Policy.Words
// has them) the way the one-shot command line does, the pace's options
// too; its error is a sentence that names the word.
type Selector func(ctx context.Context, words []string) (*reap.Selection, error)

// A ConfigError is every error of a config, each a sentence, in the order
// of the file.
type ConfigError struct {
	Path string
	Errs []string
}

func (e *ConfigError) Error() string {
	if len(e.Errs) == 1 {
		return e.Path + ": " + e.Errs[0]
	}
	return fmt.Sprintf("%s: %d errors: %s", e.Path, len(e.Errs), strings.Join(e.Errs, "; "))
}

// fileKind says what a file that is no regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// maxConfigSize bounds the config file: policies are a few lines each.
const maxConfigSize = 1 << 20

// maxPolicies bounds the policies of a config: each is a dump per interval.
const maxPolicies = 64

// Load reads the config at path and checks all of it: every policy's
// selection through sel, its action, ceiling and pace. A config with any
// error is a *ConfigError with a sentence for each; a file that cannot be
// read is its own error.
func Load(ctx context.Context, path string, sel Selector) (*Config, error) {
	// Non-blocking, so that a FIFO nobody writes to does not hold watch in
	// open(2), deaf to its signals.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read the config: %w", err)
	}
	defer f.Close()
	// A reload reads the config again: only a file can give it again.
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read the config: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, &ConfigError{path, []string{fmt.Sprintf("the config is not a file but %s; give a file, which a reload (SIGHUP) can read again", fileKind(fi.Mode()))}}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, &ConfigError{path, []string{fmt.Sprintf("the config is larger than %d bytes; a config of policies is a few lines each", maxConfigSize)}}
	}
	cfg, errs := Parse(ctx, data, sel)
	if len(errs) > 0 {
		return nil, &ConfigError{path, errs}
	}
	return cfg, nil
}

// loadFor is Load, with every reap's pace checked against the interval
// of o (tooSlow).
func loadFor(ctx context.Context, o Options) (*Config, error) {
	cfg, err := Load(ctx, o.Config, o.Select)
	if err != nil {
		return nil, err
	}
	if errs := cfg.tooSlow(o.Interval); len(errs) > 0 {
		return nil, &ConfigError{o.Config, errs}
	}
	return cfg, nil
}

// The file's shape. Scalars are read as the text written, and checked
// here: a YAML number or word becomes what the command line would make of
// the same text.
type configFile struct {
	Policies *[]policyFile `yaml:"policies"`
}

type policyFile struct {
	Name   *string              `yaml:"name"`
	Action *string              `yaml:"action"`
	Max    *string              `yaml:"max"`
	Rate   *string              `yaml:"rate"`
	Spread *string              `yaml:"spread"`
	Order  *string              `yaml:"order"`
	Select map[string]yaml.Node `yaml:"select"`
	line   int
}

// Parse reads and checks a config (see Load); errs has a sentence for each
// error, in the order of the file.
func Parse(ctx context.Context, data []byte, sel Selector) (cfg *Config, errs []string) {
	var file configFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// A key or a value of the wrong kind is one error among others: the
	// decoder goes on with the rest, and the rest is checked too.
	var te *yaml.TypeError
	if err := dec.Decode(&file); errors.As(err, &te) {
		errs = yamlErrors(te)
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, []string{"the config is not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	// A second document would be read by nothing: say so, not drop it.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil && len(next.Content) > 0 && next.Content[0].Tag != "!!null":
		errs = append(errs, fmt.Sprintf("line %d: the config goes on in a second YAML document, which would be ignored; give every policy in one (remove the ---)", next.Line))
	case err != nil && !errors.Is(err, io.EOF):
		errs = append(errs, "the config goes on in a second YAML document, which is not YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		lines(&root, &file)
	}
	if file.Policies == nil {
		return nil, append(errs, "the config has no policies: give them under policies:, or policies: [] for the metrics alone")
	}
	policies := *file.Policies
	if len(policies) > maxPolicies {
		return nil, append(errs, fmt.Sprintf("the config has %d policies, more than %d; merge some", len(policies), maxPolicies))
	}
	cfg = &Config{}
	seen := map[string]int{}
	for i, pf := range policies {
		p, perrs := pf.policy(ctx, i, sel)
		if p != nil {
			if first, ok := seen[p.Name]; ok {
				perrs = append(perrs, fmt.Sprintf("policy %q is named twice (lines %d and %d); give each policy its own name", p.Name, first, pf.line))
			} else {
				seen[p.Name] = pf.line
			}
		}
		errs = append(errs, perrs...)
		cfg.Policies = append(cfg.Policies, p)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// lines records the line each policy starts on, for the sentences.
func lines(root *yaml.Node, file *configFile) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := root.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value == "policies" && m[i+1].Kind == yaml.SequenceNode {
			for j, n := range m[i+1].Content {
				if file.Policies != nil && j < len(*file.Policies) {
					(*file.Policies)[j].line = n.Line
				}
			}
		}
	}
}

// policyName is how a sentence names a policy: by its name, or by its
// place when it has none.
func (pf *policyFile) policyName(i int) string {
	if pf.Name != nil && *pf.Name != "" {
		return fmt.Sprintf("policy %q", *pf.Name)
	}
	return fmt.Sprintf("policy %d (line %d)", i+1, pf.line)
}

// policy checks one policy, and makes it when it has a name.
func (pf *policyFile) policy(ctx context.Context, i int, sel Selector) (*Policy, []string) {
	var errs []string
	who := pf.policyName(i)
	bad := func(format string, args ...any) { errs = append(errs, who+": "+fmt.Sprintf(format, args...)) }
	p := &Policy{}
	switch {
	case pf.Name == nil:
		bad("it has no name; give it one with name:")
	case !validName.MatchString(*pf.Name):
		bad("the name %q is not one; give letters, digits, '-', '_' or '.', at most 64", *pf.Name)
	default:
		p.Name = *pf.Name
	}
	switch {
	case pf.Action == nil:
		bad("it has no action; give action: report or action: reap")
	case *pf.Action == string(Report) || *pf.Action == string(Reap):
		p.Action = Action(*pf.Action)
	default:
		bad("action %q is not one; give report (count and log) or reap (destroy)", *pf.Action)
	}
	if pf.Max != nil {
		n, err := strconv.ParseUint(*pf.Max, 10, 31)
		if err != nil {
			bad("max %q is not a number; give the largest number of sockets one interval may destroy, in decimal, 1 or more", *pf.Max)
		} else if n == 0 {
			// Every interval would refuse the whole match: a report that
			// reads as a reap.
			bad("max 0 lets the reap destroy nothing; give 1 or more, or action: report to count alone")
		}
		p.Max = int(n)
	}
	var pace []string
	for i, word := range []*string{pf.Rate, pf.Spread, pf.Order} {
		switch {
		case word == nil:
		case strings.TrimSpace(*word) == "":
			bad("%s is empty; give a value or leave the key out", paceKeys[i])
		default:
			pace = append(pace, "--"+paceKeys[i]+"="+*word)
		}
	}
	p.Longest, p.pace = longest(pf.Rate, pf.Spread, p.Max)
	if p.Action == Reap && pf.Max == nil {
		bad("a reap needs a ceiling: give max: N, the most sockets one interval may destroy")
	}
	if p.Action == Report {
		for _, k := range []struct {
			key string
			set bool
		}{{"max", pf.Max != nil}, {"rate", pf.Rate != nil}, {"spread", pf.Spread != nil}, {"order", pf.Order != nil}} {
			if k.set {
				bad("%s is for a reap; a report destroys nothing (give action: reap, or leave %s out)", k.key, k.key)
			}
		}
	}
	words, werrs := selectWords(pf.Select, pace)
	for _, e := range werrs {
		bad("%s", e)
	}
	if len(pf.Select) == 0 {
		bad("it selects nothing; give the sockets under select: (state, port, process, idle, peer, …)")
	} else if len(werrs) == 0 {
		p.Words = words
		s, err := sel(ctx, words)
		switch {
		case err != nil:
			bad("select: %v", err)
		case !s.HasSelector():
			bad("select: it selects every socket; narrow it (state, port, process, idle, peer, …)")
		default:
			p.Selection = s
		}
	}
	if len(errs) > 0 {
		if p.Name == "" {
			return nil, errs
		}
		return p, errs
	}
	return p, nil
}

// longest is how long max sockets take at the pace of rate (N/s, N/m,
// N/h) or spread, as the Selector checks them: 0 for none, or a pace that
// does not read (the Selector says why).
func longest(rate, spread *string, max int) (time.Duration, string) {
	if spread != nil {
		d, _ := time.ParseDuration(strings.TrimSpace(*spread))
		return d, *spread
	}
	if rate == nil {
		return 0, ""
	}
	n, unit, _ := strings.Cut(strings.TrimSpace(*rate), "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if k, err := strconv.Atoi(n); err == nil && k > 0 && per > 0 {
		return time.Duration(max) * per / time.Duration(k), *rate
	}
	return 0, ""
}

// tooSlow has a sentence for each reap whose pace may take longer than an
// interval: it would hold every census, reload and policy behind it (and
// /healthz would fail).
func (c *Config) tooSlow(interval time.Duration) []string {
	var errs []string
	for _, p := range c.Policies {
		switch {
		case p.Action != Reap || p.Longest <= interval:
		case p.spreads():
			errs = append(errs, fmt.Sprintf("policy %q: spread %v is longer than the interval (%v), which every census and policy would wait for; give a spread of at most the interval, or a longer --interval", p.Name, p.Longest, interval))
		default:
			errs = append(errs, fmt.Sprintf("policy %q: at %s its max %d takes %v, longer than the interval (%v), which every census and policy would wait for; give a faster rate, a lower max, or a longer --interval", p.Name, p.pace, p.Max, p.Longest, interval))
		}
	}
	return errs
}

// spreads reports whether the policy's pace is a spread.
func (p *Policy) spreads() bool { return p.pace != "" && !strings.Contains(p.pace, "/") }

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// selectWords turns a policy's select: map into the one-shot command's
// words: each key an option (--key=value, once per value of a list), then
// the pace's options, and peer the PEERs, after "--". Keys are taken in
// sorted order, so that the same config is the same words.
func selectWords(sel map[string]yaml.Node, pace []string) ([]string, []string) {
	var words, peers, errs []string
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		n := resolve(sel[k])
		var values []string
		switch n.Kind {
		case yaml.ScalarNode:
			values = []string{n.Value}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if item = resolve(*item); item.Kind != yaml.ScalarNode {
					errs = append(errs, fmt.Sprintf("select: %s (line %d): give a value or a list of values, not a map", k, item.Line))
					continue
				}
				values = append(values, item.Value)
			}
		default:
			errs = append(errs, fmt.Sprintf("select: %s (line %d): give a value or a list of values, not a map", k, n.Line))
			continue
		}
		if len(values) == 0 || slices.ContainsFunc(values, func(v string) bool { return strings.TrimSpace(v) == "" }) || n.Tag == "!!null" {
			errs = append(errs, fmt.Sprintf("select: %s (line %d) is empty; give a value or leave it out", k, n.Line))
			continue
		}
		if slices.Contains(paceKeys, k) {
			errs = append(errs, fmt.Sprintf("select: %s (line %d) is the pace of a reap, not a selector; give it beside select:, as a key of the policy", k, n.Line))
			continue
		}
		if k == "peer" {
			peers = append(peers, values...)
			continue
		}
		if strings.HasPrefix(k, "-") || strings.ContainsAny(k, "= ") {
			errs = append(errs, fmt.Sprintf("select: %q (line %d) is not a selector; write it as the option's name without dashes (state, port, idle, …)", k, n.Line))
			continue
		}
		for _, v := range values {
			words = append(words, "--"+k+"="+v)
		}
	}
	words = append(words, pace...)
	if len(peers) > 0 {
		words = append(append(words, "--"), peers...)
	}
	return words, errs
}

// resolve is the node an alias (*name) stands for, else n.
func resolve(n yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return &n
}

// yamlErrors turns the decoder's errors of keys and kinds into sentences.
func yamlErrors(te *yaml.TypeError) []string {
	var out []string
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			where, keys := "at the top", "policies"
			if m[3] == "policyFile" {
				where, keys = "in a policy", "name, action, select, max, rate, spread and order"
			}
			out = append(out, fmt.Sprintf("line %s: %q is not a key %s; the keys are %s", m[1], m[2], where, keys))
			continue
		}
		if m := wrongKind.FindStringSubmatch(e); m != nil {
			kinds := map[string]string{"!!seq": "a list", "!!map": "a map", "!!str": "a value", "!!int": "a number", "!!bool": "true or false", "!!float": "a number", "!!null": "nothing"}
			want := "one value"
			if strings.HasPrefix(m[3], "[]") {
				want = "a list"
			} else if strings.HasPrefix(m[3], "map") || strings.HasPrefix(m[3], "watch.") {
				want = "a map of keys"
			}
			out = append(out, fmt.Sprintf("line %s: %s is given where %s is wanted", m[1], cmp.Or(kinds[m[2]], m[2]), want))
			continue
		}
		out = append(out, strings.TrimPrefix(e, "yaml: "))
	}
	return out
}

var wrongKind = regexp.MustCompile(`^line (\d+): cannot unmarshal (\S+)(?: ` + "`" + `[^` + "`" + `]*` + "`" + `)? into (\S+)$`)

var unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type watch\.(\w+)$`)
