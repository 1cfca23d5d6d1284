//go:build !linux

package sysmem

// Available does not know the memory left outside Linux: ok is false.
func Available() (Limit, bool) { return Limit{}, false }
