package sockbpf

// TargetsLeft counts the cookies in d's targets map: none after a Destroy.
func TargetsLeft(d *Destroyer) int {
	var key uint64
	var value uint8
	n := 0
	for it := d.objs.Targets.Iterate(); it.Next(&key, &value); {
		n++
	}
	return n
}
