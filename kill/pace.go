package kill

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A Pace is how fast a plan is destroyed, so that a mass cut does not make
// every client reconnect in the same second: at most Rate targets per unit
// of time, or the targets spread evenly over Spread. The zero Pace is as fast
// as the kernel takes them. Rate and Spread are alternatives: ParseRate and
// ParseSpread read one each, and a caller refuses both.
type Pace struct {
	Rate   Rate
	Spread time.Duration
}

// A Rate is N targets every Per ("100/s": 100 a second).
type Rate struct {
	N   int
	Per time.Duration
}

// Paced reports whether the pace is slower than the kernel takes them.
func (p Pace) Paced() bool { return p.Rate.N > 0 || p.Spread > 0 }

// String is the rate ("100/s") or the spread ("10m0s"); "" for none.
func (p Pace) String() string {
	switch {
	case p.Rate.N > 0:
		return p.Rate.String()
	case p.Spread > 0:
		return p.Spread.String()
	}
	return ""
}

func (r Rate) String() string {
	return strconv.Itoa(r.N) + "/" + rateUnits[r.Per]
}

// The units of a rate, by what they stand for.
var rateUnits = map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}

// maxRate bounds N: a million a unit is faster than any kernel destroys.
const maxRate = 1_000_000

// MaxSpread bounds a spread: a day.
const MaxSpread = 24 * time.Hour

var rateSyntax = regexp.MustCompile(`^([0-9]+)/(s|m|h)$`)

// ParseRate reads a rate: a whole number of targets, 1 to a million, per
// second, minute or hour ("100/s", "30/m", "500/h"). A bare number is
// refused, not read as a rate per second: "5" may be meant per minute. An
// error starts with the word.
func ParseRate(word string) (Rate, error) {
	w := strings.TrimSpace(word)
	m := rateSyntax.FindStringSubmatch(w)
	if m == nil {
		if w != "" && strings.Trim(w, "0") == "" {
			return Rate{}, fmt.Errorf("%s: a rate of 0 destroys nothing; give 1/s or more", w)
		}
		if w != "" && strings.Trim(w, "0123456789") == "" {
			return Rate{}, fmt.Errorf("%s: give the rate with its unit: %s/s, %s/m or %s/h", w, w, w, w)
		}
		return Rate{}, fmt.Errorf("%q is not a rate; give a whole number of sockets per second, minute or hour, such as 100/s, 30/m or 500/h", word)
	}
	n, err := strconv.Atoi(m[1])
	switch {
	case err != nil || n > maxRate:
		return Rate{}, fmt.Errorf("%s: give at most %d/%s", w, maxRate, m[2])
	case n == 0:
		return Rate{}, fmt.Errorf("%s: a rate of 0 destroys nothing; give 1/%s or more", w, m[2])
	}
	per := time.Second
	for d, u := range rateUnits {
		if u == m[2] {
			per = d
		}
	}
	return Rate{N: n, Per: per}, nil
}

// ParseSpread reads a spread: a duration with its unit ("90s", "10m"),
// above zero and at most MaxSpread. An error starts with the word.
func ParseSpread(word string) (time.Duration, error) {
	w := strings.TrimSpace(word)
	d, err := time.ParseDuration(w)
	switch {
	case err == nil && d > MaxSpread:
		return 0, fmt.Errorf("%s: give at most %v", w, MaxSpread)
	case err == nil && d > 0:
		return d, nil
	case err == nil:
		return 0, fmt.Errorf("%s: give a duration above zero", w)
	case w != "" && strings.Trim(w, "0123456789") == "":
		return 0, fmt.Errorf("%s: give a unit: %ss, %sm or %sh", w, w, w, w)
	}
	return 0, fmt.Errorf("%q is not a duration; give one with its unit, such as 90s, 10m or 2h", word)
}

// batchTick is how often a paced run sends a batch, at most: a rate of 100/s
// sends 10 targets every 100 ms, not one every 10 ms, so that each batch's
// look-up and verification cost a round trip per tenth of a second.
const batchTick = 100 * time.Millisecond

// A Pacer paces the destroys of one run, across all its plans (one per
// network namespace): the run's n-th target is due n times the pace's
// interval after the first. Make it with Pace.Start.
type Pacer struct {
	pace  Pace
	every time.Duration // between two targets
	batch int           // targets sent at once
	start time.Time
	sent  int
}

// Start starts pacing a run of targets; nil when the pace is none or there
// is nothing to pace.
func (p Pace) Start(targets int) *Pacer {
	var every time.Duration
	switch {
	case targets <= 0:
		return nil
	case p.Rate.N > 0:
		every = p.Rate.Per / time.Duration(p.Rate.N)
	case p.Spread > 0:
		every = p.Spread / time.Duration(targets)
	default:
		return nil
	}
	batch := 1
	if every > 0 {
		batch = max(1, int(batchTick/every))
	} else {
		batch = targets
	}
	return &Pacer{pace: p, every: every, batch: batch, start: time.Now()}
}

// Pace is what the Pacer paces at.
func (c *Pacer) Pace() Pace { return c.pace }

// next waits until the next batch is due and returns how many of left
// targets it holds; 0 when ctx ended first.
func (c *Pacer) next(ctx context.Context, left int) int {
	due := time.Until(c.start.Add(time.Duration(c.sent) * c.every))
	if due > 0 {
		t := time.NewTimer(due)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return 0
		case <-t.C:
		}
	}
	if ctx.Err() != nil {
		return 0
	}
	n := min(c.batch, left)
	c.sent += n
	return n
}
