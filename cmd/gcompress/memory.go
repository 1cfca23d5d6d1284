package main

import (
	"fmt"
	"strings"

	"github.com/gcompress/gcompress/internal/sysmem"
	"github.com/gcompress/gcompress/runtime"
)

// checkPeakMemory refuses to run sess (the model at path) when the
// tensors a run must hold at once (runtime.Session.PeakBytes, a lower
// bound) exceed the memory this process can still use
// (sysmem.Available): the run would otherwise end in Go's fatal
// out-of-memory error, or the kernel's OOM killer, part way through.
// dims are the user's --dim flags, for the hint.
func checkPeakMemory(path string, sess *runtime.Session, dims []string) error {
	need, at := sess.PeakBytes()
	avail, ok := sysmem.Available()
	if !ok || need <= avail.Bytes {
		return nil
	}
	where := ""
	if at != nil {
		name := at.Name
		if name == "" && len(at.Outputs) > 0 && at.Outputs[0] != nil {
			name = "-> " + at.Outputs[0].Name
		}
		where = fmt.Sprintf(" (during node %q, %s)", name, at.OpType)
	}
	hint := "smaller inputs"
	if len(dims) > 0 {
		hint = "smaller sizes than --dim " + strings.Join(dims, " --dim ")
	}
	return fmt.Errorf("%s: a run at these sizes holds at least %s of tensors at once%s, more than the %s this process can still use (%s); try %s",
		path, inspectBytes(need), where, inspectBytes(avail.Bytes), avail.From, hint)
}
