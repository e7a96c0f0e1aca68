package watch_test

import (
	"context"
	"fmt"

	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/watch"
)

// A config is checked whole: each policy's selection by the Selector, which
// parses the one-shot command's words (tcpreap watch passes its own).
func ExampleParse() {
	selector := func(_ context.Context, words []string) (*reap.Selection, error) {
		fmt.Println(words)
		return &reap.Selection{Filter: sockdiag.Filter{States: 1 << sockdiag.CloseWait}}, nil
	}
	cfg, errs := watch.Parse(context.Background(), []byte(`
policies:
  - name: java-close-wait
    action: reap
    max: 200
    spread: 30s
    select: {state: close_wait, process: java, idle: 10m}
`), selector)
	fmt.Println(cfg.Policies[0].Name, cfg.Policies[0].Action, cfg.Policies[0].Max, errs)
	// Output:
	// [--idle=10m --process=java --state=close_wait --spread=30s]
	// java-close-wait reap 200 []
}
