// FP16 / BF16 tensor-core GEMMs (mma.sync m16n8k16, float32 accumulation):
// see gemm_dense.cuh for the structure and ref.HalfGemmRef for the maths.
// The output is float32 or the input's half type (rounded to nearest even
// from the float32 epilogue value). These are also the building block for
// attention (Q·Kᵀ is exactly this TN product).
#include "gemm_dense.cuh"

GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_DENSE_TILES(GC_DENSE_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)
