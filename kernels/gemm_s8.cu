// INT8 tensor-core GEMMs (mma.sync m16n8k32 s8): see gemm_dense.cuh for the
// kernel structure and kernels/ref/gemm.go (Int8GemmRef, Epilogue) for the
// maths each entry point must reproduce bit for bit.
//   gc_gemm_s8_s32_<tile>: D = A·Bᵀ (raw int32 accumulators)
//   gc_gemm_s8_f32_<tile>: D = fl(fl(float(acc) * scale[c]) + bias[c])
//   gc_gemm_s8_s8_<tile>:  D = sat8(rne(fl(float(acc + bias32[c]) * scale[c])) + zp)
#include "gemm_dense.cuh"

GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
