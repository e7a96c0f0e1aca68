package sockdiag

import "iter"

// Query streams every socket the filter selects: one dump per (protocol,
// family) with the kernel's state mask, port prefilter and filter program,
// and every answer checked again with Match. It stops at the first error.
func (c *Conn) Query(f *Filter) iter.Seq2[Socket, error] {
	return func(yield func(Socket, error) bool) {
		for _, d := range f.dumps() {
			if d.never {
				continue
			}
			for s, err := range c.Dump(d.Request) {
				if err != nil {
					yield(Socket{}, err)
					return
				}
				if f.Match(&s) && !yield(s, nil) {
					return
				}
			}
		}
	}
}
