// Host versions of the device helpers of kernels/common.cuh (cp.async,
// ldmatrix, mma, mma.sp), used when the kernels are compiled with
// GC_EMULATE. Each states, as code, the PTX semantics the kernels rely on
// (PTX ISA: "Matrix fragments for mma.m16n8k32 / m16n8k16", sparse
// "m16n8k64 / m16n8k32", ldmatrix). g = lane/4, t = lane%4 below.
#ifndef GC_EMU_OPS_H
#define GC_EMU_OPS_H

#include "emu.h"

namespace gc {

typedef uintptr_t saddr_t;

inline saddr_t smem_addr(const void* p) { return (saddr_t)p; }

inline void cp_async_n(saddr_t dst, const void* src, int src_bytes, int size) {
  const uint8_t* p = (const uint8_t*)dst;
  if (gc_emu::wgmma_reads(p, p + size)) gc_emu::fail("cp.async into shared memory that an unfinished wgmma reads");
  gc_emu::cur->open.push_back(gc_emu::Copy{(uint8_t*)dst, (const uint8_t*)src, size, src_bytes});
}
inline void cp_async16(saddr_t dst, const void* src, int src_bytes) { cp_async_n(dst, src, src_bytes, 16); }
inline void cp_async8(saddr_t dst, const void* src, int src_bytes) { cp_async_n(dst, src, src_bytes, 8); }

inline void cp_async_commit() { gc_emu::commit_group(gc_emu::cur->groups, gc_emu::cur->open); }

// cp.async.wait_group N: every committed group but the newest N completes.
template <int N>
inline void cp_async_wait() {
  gc_emu::complete_groups(gc_emu::cur->groups, N, gc_emu::do_copy);
}

// ldmatrix.x4: lanes 8j..8j+7 give the row addresses of matrix j; lane l
// receives in r[j] bytes 4(l%4)..+3 of row l/4 of matrix j.
inline void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, saddr_t addr) {
  gc_emu::WarpSlots& s = gc_emu::slots();
  const int lane = gc_emu::cur->lane;
  s.w[lane][0] = addr;
  gc_emu::warp_sync();
  uint32_t r[4];
  for (int j = 0; j < 4; ++j) memcpy(&r[j], (const uint8_t*)s.w[8 * j + lane / 4][0] + 4 * (lane % 4), 4);
  gc_emu::warp_sync();
  r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}

// Fragment byte accessors. A: 16 rows x 32 bytes, register
// (row >= 8) + 2*(byte >= 16) of lane (row%8)*4 + (byte%16)/4, byte byte%4.
// B (n8 x K bytes, K = 32 dense or 64 sparse): register byte/16 of lane
// n*4 + (byte%16)/4.
inline uint8_t a_byte(const gc_emu::WarpSlots& s, int row, int byte) {
  const int reg = (row >= 8) + 2 * (byte >= 16);
  const uint32_t v = (uint32_t)s.w[(row % 8) * 4 + (byte % 16) / 4][reg];
  return (uint8_t)(v >> (8 * (byte % 4)));
}
inline uint8_t b_byte(const gc_emu::WarpSlots& s, int n, int byte) {
  const uint32_t v = (uint32_t)s.w[n * 4 + (byte % 16) / 4][4 + byte / 16];
  return (uint8_t)(v >> (8 * (byte % 4)));
}

template <typename T>
inline T frag(const gc_emu::WarpSlots& s, bool isA, int rc, int elem) {
  T v;
  uint8_t b[sizeof(T)];
  for (int i = 0; i < (int)sizeof(T); ++i) b[i] = isA ? a_byte(s, rc, elem * sizeof(T) + i) : b_byte(s, rc, elem * sizeof(T) + i);
  memcpy(&v, b, sizeof(T));
  return v;
}

// deposit puts a lane's A (4 words), B (up to 4) and metadata (1) in the
// slots: w[0..3] = A, w[4..7] = B, w[8] = metadata.
inline gc_emu::WarpSlots& deposit(const uint32_t (&a)[4], const uint32_t* b, int nb, uint32_t e) {
  gc_emu::WarpSlots& s = gc_emu::slots();
  const int lane = gc_emu::cur->lane;
  for (int i = 0; i < 4; ++i) s.w[lane][i] = a[i];
  for (int i = 0; i < nb; ++i) s.w[lane][4 + i] = b[i];
  s.w[lane][8] = e;
  gc_emu::warp_sync();
  return s;
}

// Accumulator c0..c3 of lane (g, t): (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
inline void out_rc(int i, int& row, int& col) {
  const int lane = gc_emu::cur->lane;
  row = lane / 4 + 8 * (i / 2);
  col = 2 * (lane % 4) + i % 2;
}

// half_value is the value of the bits h of an f16 (bf16 if bf) element.
inline float half_value(uint16_t h, bool bf) {
  if (bf) {
    __nv_bfloat16_raw r;
    r.x = h;
    return __bfloat162float(__nv_bfloat16(r));
  }
  __half_raw r;
  r.x = h;
  return __half2float(__half(r));
}

inline float half_at(const gc_emu::WarpSlots& s, bool isA, int rc, int k, bool bf) {
  return half_value(frag<uint16_t>(s, isA, rc, k), bf);
}

// Dense m16n8k32 s8 (wrap-around int32 accumulation).
inline void mma_s8_16832(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  const uint32_t b[2] = {b0, b1};
  gc_emu::WarpSlots& s = deposit(a, b, 2, 0);
  for (int i = 0; i < 4; ++i) {
    int row, col;
    out_rc(i, row, col);
    uint32_t acc = (uint32_t)d[i];
    for (int k = 0; k < 32; ++k) acc += (uint32_t)((int)(int8_t)a_byte(s, row, k) * (int)(int8_t)b_byte(s, col, k));
    d[i] = (int)acc;
  }
  gc_emu::warp_sync();
}

// Dense m16n8k16 f16/bf16 -> f32 (the hardware's summation order is not
// specified; this sums in k order in float).
inline void mma_half_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf) {
  const uint32_t b[2] = {b0, b1};
  gc_emu::WarpSlots& s = deposit(a, b, 2, 0);
  for (int i = 0; i < 4; ++i) {
    int row, col;
    out_rc(i, row, col);
    float acc = d[i];
    for (int k = 0; k < 16; ++k) acc += half_at(s, true, row, k, bf) * half_at(s, false, col, k, bf);
    d[i] = acc;
  }
  gc_emu::warp_sync();
}
inline void mma_f16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_half_16816(d, a, b0, b1, false);
}
inline void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_half_16816(d, a, b0, b1, true);
}

// Sparse metadata, as the kernels assume it (selector 0; see the layout in
// gemm_sp24.cu): for halves (m16n8k32, 8 groups per row) the nibble of
// group grp of row r is in the register of lane (r%8)*4 + grp/4, bits
// 16*(r >= 8) + 4*(grp%4) .. +3 (only lanes with t < 2 are read, as the
// hardware does with selector 0); for int8 (m16n8k64, 16 groups per row)
// in the register of lane (r%8)*4 + 2*(grp/8) + (r >= 8), bits
// 4*(grp%8) .. +3.
inline int sp_col(const gc_emu::WarpSlots& s, int row, int c, bool s8) {
  const int grp = c / 2;
  const int lane = s8 ? (row % 8) * 4 + 2 * (grp / 8) + (row >= 8) : (row % 8) * 4 + grp / 4;
  const int shift = s8 ? 4 * (grp % 8) : 16 * (row >= 8) + 4 * (grp % 4);
  const uint32_t e = (uint32_t)s.w[lane][8];
  const uint32_t nib = (e >> shift) & 0xf;
  const int idx = (c % 2 == 0) ? (nib & 3) : ((nib >> 2) & 3);
  return 4 * grp + idx;
}

// Sparse m16n8k64 s8: A is the compressed 16 x 32 tile in the dense A
// layout; B covers 64 K bytes.
inline void mma_sp_s8_16864(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  gc_emu::WarpSlots& s = deposit(a, b, 4, e);
  for (int i = 0; i < 4; ++i) {
    int row, col;
    out_rc(i, row, col);
    uint32_t acc = (uint32_t)d[i];
    for (int c = 0; c < 32; ++c) {
      const int k = sp_col(s, row, c, true);
      acc += (uint32_t)((int)(int8_t)a_byte(s, row, c) * (int)(int8_t)b_byte(s, col, k));
    }
    d[i] = (int)acc;
  }
  gc_emu::warp_sync();
}

// Sparse m16n8k32 f16/bf16: A compressed 16 x 16 halves, B 32 halves.
inline void mma_sp_half_16832(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e, bool bf) {
  gc_emu::WarpSlots& s = deposit(a, b, 4, e);
  for (int i = 0; i < 4; ++i) {
    int row, col;
    out_rc(i, row, col);
    float acc = d[i];
    for (int c = 0; c < 16; ++c) acc += half_at(s, true, row, c, bf) * half_at(s, false, col, sp_col(s, row, c, false), bf);
    d[i] = acc;
  }
  gc_emu::warp_sync();
}
inline void mma_sp_f16_16832(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  mma_sp_half_16832(d, a, b, e, false);
}
inline void mma_sp_bf16_16832(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  mma_sp_half_16832(d, a, b, e, true);
}

}  // namespace gc

#endif  // GC_EMU_OPS_H
