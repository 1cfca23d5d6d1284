package cuda

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseDevice parses a device name of the form "cuda:N" (N a decimal
// ordinal >= 0; "cuda" alone means cuda:0) and returns N.
func ParseDevice(name string) (int, error) {
	if name == "cuda" {
		return 0, nil
	}
	rest, ok := strings.CutPrefix(name, "cuda:")
	if !ok {
		return 0, fmt.Errorf("device %q: want cuda:N", name)
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strings.TrimSpace(rest) != rest || strings.HasPrefix(rest, "+") {
		return 0, fmt.Errorf("device %q: N must be a device ordinal (0, 1, ...)", name)
	}
	return n, nil
}
