package emu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceLinks: every kernel source (kernels/*.cu, *.cuh, *.h) has its
// link src_<name>.h here, and every link names one. emu.cpp includes the
// sources from outside this package, which Go's build cache does not
// follow; the links put their contents among the package's header files, so
// that an edited kernel rebuilds the emulator (a source without a link is
// emulated stale until something else changes).
func TestSourceLinks(t *testing.T) {
	var srcs []string
	for _, pat := range []string{"../*.cu", "../*.cuh", "../*.h"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, m...)
	}
	if len(srcs) == 0 {
		t.Fatal("no kernel sources in kernels/")
	}
	want := map[string]string{}
	for _, src := range srcs {
		name := filepath.Base(src)
		want["src_"+strings.ReplaceAll(name, ".", "_")+".h"] = "../" + name
	}
	links, err := filepath.Glob("src_*.h")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		target, err := os.Readlink(l)
		switch {
		case err != nil:
			t.Errorf("%s is not a link: %v", l, err)
		case want[l] == "":
			t.Errorf("%s -> %s names no kernel source", l, target)
		case target != want[l]:
			t.Errorf("%s -> %s, want %s", l, target, want[l])
		}
		delete(want, l)
	}
	for l, target := range want {
		t.Errorf("no link %s -> %s (ln -s %s kernels/emu/%s)", l, target, target, l)
	}
}
