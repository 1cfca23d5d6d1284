// Command wgmmacubins assembles every kernel of the wgmma module for sm_90a
// and writes them into one archive (gobind.WgmmaCubinFile), which the
// cuda build embeds so that the driver need not compile them on first use.
// `make kernels` runs it where PTXAS_SM90A names a CUDA 12 or newer ptxas
// (scripts/ptxas-sm90a.sh fetches one, with the nvdisasm it also needs):
//
//	wgmmacubins -ptxas build/ptxas-sm90a/usr/bin/ptxas \
//	    -out gobind/fatbin/gemm_wgmma.cubin.tar.gz gobind/fatbin/gemm_wgmma.ptx.gz
//
// Each kernel is assembled from its own module (gobind.SplitPTX), as the
// driver would compile it, and must assemble without errors, warnings
// (serialised wgmma) or spills; every kernel's SASS must be free of fences
// at GPU scope in its loops, and the 2:4 kernels' of the wgmma.sp metadata
// hazard. Any failure fails the command and writes nothing.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/internal/atomicfile"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wgmmacubins:", err)
		os.Exit(1)
	}
}

func run() error {
	ptxas := flag.String("ptxas", "", "ptxas of CUDA 12 or newer, with nvdisasm beside it (required)")
	out := flag.String("out", "", "archive to write (required)")
	workers := flag.Int("workers", runtime.NumCPU(), "ptxas processes at a time")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wgmmacubins -ptxas PTXAS -out ARCHIVE WGMMA_PTX_GZ\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *ptxas == "" || *out == "" || flag.NArg() != 1 {
		flag.Usage()
		return fmt.Errorf("want -ptxas, -out and one PTX file")
	}
	nvdisasm := filepath.Join(filepath.Dir(*ptxas), "nvdisasm")
	if _, err := os.Stat(nvdisasm); err != nil {
		return fmt.Errorf("no nvdisasm beside %s for the SASS check (scripts/ptxas-sm90a.sh puts one there): %w", *ptxas, err)
	}
	assembler, err := gobind.PtxasVersion(*ptxas)
	if err != nil {
		return err
	}

	gz, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		return err
	}
	ptx, err := gobind.UnzipPTX(gz)
	if err != nil {
		return err
	}
	mods, err := gobind.SplitPTX(ptx)
	if err != nil {
		return fmt.Errorf("%s: %w", flag.Arg(0), err)
	}
	dir, err := os.MkdirTemp("", "wgmmacubins")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	start, n := time.Now(), 0
	cubins, errs := gobind.AssembleAll(*ptxas, nvdisasm, dir, mods, *workers, func(string, error) {
		if n++; n%25 == 0 || n == len(mods) {
			fmt.Fprintf(os.Stderr, "wgmmacubins: %d/%d kernels assembled (%v)\n", n, len(mods), time.Since(start).Round(time.Second))
		}
	})
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
		}
		return fmt.Errorf("%d of %d kernels failed; %s not written", len(errs), len(mods), *out)
	}
	c := gobind.NewCubins(assembler, cubins, mods)
	if err := atomicfile.Write(*out, func(w io.Writer) error { return c.Write(w) }); err != nil {
		return err
	}
	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d kernels assembled for sm_90a by %s in %v, no warnings or spills, no GPU-scope fence in a loop, no wgmma.sp metadata hazard in the 2:4 SASS (%.1f MiB)\n",
		*out, len(cubins), assembler, time.Since(start).Round(time.Second), float64(info.Size())/(1<<20))
	return nil
}
