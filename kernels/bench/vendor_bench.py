#!/usr/bin/env python3
"""Vendor baselines for gcompress's CUDA kernel benchmarks.

Runs on the GPU host (PyTorch with CUDA; no network needed) and times the
vendor libraries on the same problems as `kernelbench -bench`:

  int8_dense     torch._int_mm(A[M,K] int8, B[N,K].t())        (cuBLASLt int8)
  f16_dense      torch.matmul(A[M,K] f16, B[N,K].t())          (cuBLAS/cuBLASLt)
  bf16_dense     the same in bf16
  int8_sparse24  torch.mm(W_2:4[M,K] int8, X[N,K].t())         (cuSPARSELt or CUTLASS
  f16_sparse24   torch.mm(W_2:4[M,K] f16, X[N,K].t())           via to_sparse_semi_structured)

Timing: CUDA events around each call, the L2 cache flushed (a buffer of
twice the L2 size is zeroed) before every repeat, warm-up calls first;
median and minimum over the repeats. TOPS = 2*M*N*K / time.

Every case is independent: one that fails (an unsupported dtype in this
PyTorch build, say) records its error and the others still run. The output
is JSON (--out), read by `kernelbench -vendor`.
"""
import argparse
import json
import statistics
import sys
import traceback


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4096,8192", help="comma-separated cube sizes M=N=K")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default="vendor.json")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("vendor_bench: torch sees no CUDA device", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 64 << 20) or (64 << 20)
    flush = torch.empty(2 * l2, dtype=torch.uint8, device=dev)

    def timeit(fn):
        for _ in range(args.warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.reps):
            flush.zero_()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times), min(times)

    def prune24(w):
        # Keep the two largest magnitudes of every group of four along K.
        m, k = w.shape
        g = w.reshape(m, k // 4, 4)
        idx = g.float().abs().topk(2, dim=-1).indices
        mask = torch.zeros_like(g, dtype=torch.bool).scatter_(-1, idx, True)
        return (g * mask).reshape(m, k)

    results = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        m = n = k = size
        flops = 2.0 * m * n * k

        def case(kernel, impl, build):
            rec = {"kernel": kernel, "m": m, "n": n, "k": k, "impl": impl, "error": None}
            try:
                fn, detail = build()
                med, mn = timeit(fn)
                rec.update(median_ms=med, min_ms=mn, tops=flops / (med * 1e-3) / 1e12)
                if detail:
                    rec["detail"] = detail
            except Exception as e:  # record and go on: one unsupported case must not stop the rest
                rec["error"] = f"{type(e).__name__}: {e}"
                traceback.print_exc(limit=1)
            torch.cuda.empty_cache()
            results.append(rec)
            status = rec["error"] or f"{rec['median_ms']:.3f} ms  {rec['tops']:.1f} TOP/s"
            print(f"{kernel:14s} {m}x{n}x{k}  {impl:40s} {status}", flush=True)

        def int8_dense():
            a = torch.randint(-128, 128, (m, k), dtype=torch.int8, device=dev)
            b = torch.randint(-128, 128, (n, k), dtype=torch.int8, device=dev)
            return (lambda: torch._int_mm(a, b.t())), None

        def half_dense(dt):
            def build():
                a = torch.randn(m, k, dtype=dt, device=dev)
                b = torch.randn(n, k, dtype=dt, device=dev)
                return (lambda: torch.matmul(a, b.t())), None
            return build

        def sparse(dt):
            def build():
                from torch.sparse import to_sparse_semi_structured
                if dt == torch.int8:
                    w = torch.randint(-128, 128, (m, k), dtype=torch.int8, device=dev)
                    x = torch.randint(-128, 128, (n, k), dtype=torch.int8, device=dev)
                else:
                    w = torch.randn(m, k, dtype=dt, device=dev)
                    x = torch.randn(n, k, dtype=dt, device=dev)
                ws = to_sparse_semi_structured(prune24(w))
                xt = x.t()
                return (lambda: torch.mm(ws, xt)), type(ws).__name__
            return build

        case("int8_dense", "torch._int_mm", int8_dense)
        case("f16_dense", "torch.matmul f16", half_dense(torch.float16))
        case("bf16_dense", "torch.matmul bf16", half_dense(torch.bfloat16))
        case("int8_sparse24", "to_sparse_semi_structured int8 + mm", sparse(torch.int8))
        case("f16_sparse24", "to_sparse_semi_structured f16 + mm", sparse(torch.float16))

    doc = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": props.name,
        "sm_count": props.multi_processor_count,
        "l2_bytes": l2,
        "reps": args.reps,
        "warmup": args.warmup,
        "results": results,
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
    import os
    os.replace(args.out + ".tmp", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
