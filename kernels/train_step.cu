// Kernels of one full-batch training step of the two-layer modular-addition network, f32.
//
// Written to be compiled to PTX without any CUDA header: by clang
// (`--cuda-device-only -nocudainc -nocudalib`, see build_ptx.sh) or by nvcc. The same file also
// compiles as plain host C++ (no __CUDA__), which build_ptx.sh uses to check the device math
// functions (expf_acc, logf_acc) against the C library before it emits the PTX, and, with
// MODADD_KERNEL_EMU, into a host emulation of the kernels (kernels/emu.cpp).
//
// Layouts (all dense, f32 unless said otherwise; R = rows of the prepared batch, M = width,
// P = modulus p). They are the host's nalgebra column-major layouts, so weights copy as they are:
//   W_in   (M x p col-major)  element (m, v) at  m + v*M      (column v = all neurons for input v)
//   W_out  (p x M col-major)  element (j, m) at  j + m*P      (= W_out^T, M x P row-major)
//   A, DH, DA (R x M row-major)  element (r, m) at  r*M + m
//   Z / G  (R x P row-major)     element (r, j) at  r*P + j
// Every reduction has a fixed order (no atomics), so a step is deterministic on a given device.
// Floating-point contraction is off (-ffp-contract=off); the GEMM uses fmaf explicitly.

#if defined(__CUDACC__) && !defined(__clang__)
// nvcc: the CUDA built-ins are predeclared.
#define __CUDA__ 1
#define KERNEL extern "C" __global__
#define DEVFN static __device__ inline
#define SHARED __shared__
#define TID_X ((int)threadIdx.x)
#define NTID_X ((int)blockDim.x)
#define CTAID_X ((int)blockIdx.x)
#define CTAID_Y ((int)blockIdx.y)
#define NCTAID_X ((int)gridDim.x)
#define NCTAID_Y ((int)gridDim.y)
#define CTAID_Z ((int)blockIdx.z)
#define SYNC() __syncthreads()
#define SQRTF(x) __fsqrt_rn(x)
#define FMAF(a, b, c) __fmaf_rn(a, b, c)
#define UNROLL _Pragma("unroll")
#elif defined(__CUDA__)
// clang -nocudainc: only the NVPTX builtins.
#define KERNEL extern "C" __attribute__((global))
#define DEVFN static __attribute__((device)) inline
#define SHARED __attribute__((shared))
#define TID_X ((int)__nvvm_read_ptx_sreg_tid_x())
#define NTID_X ((int)__nvvm_read_ptx_sreg_ntid_x())
#define CTAID_X ((int)__nvvm_read_ptx_sreg_ctaid_x())
#define CTAID_Y ((int)__nvvm_read_ptx_sreg_ctaid_y())
#define NCTAID_X ((int)__nvvm_read_ptx_sreg_nctaid_x())
#define NCTAID_Y ((int)__nvvm_read_ptx_sreg_nctaid_y())
#define CTAID_Z ((int)__nvvm_read_ptx_sreg_ctaid_z())
#define SYNC() __syncthreads()
#define SQRTF(x) __nvvm_sqrt_rn_f(x)
#define FMAF(a, b, c) __builtin_fmaf(a, b, c)
#define UNROLL _Pragma("unroll")
#elif defined(MODADD_KERNEL_EMU)
// Host emulation (kernels/emu.cpp, feature `kernel-emu`): blocks run one after another and the
// threads of a block as fibers that switch at SYNC(), so SHARED can be a static.
#define KERNEL static
#define DEVFN static inline
#define SHARED static
#define TID_X (emu_cur->tid)
#define NTID_X (emu_cur->ntid)
#define CTAID_X (emu_cur->ctaid[0])
#define CTAID_Y (emu_cur->ctaid[1])
#define CTAID_Z (emu_cur->ctaid[2])
#define NCTAID_X (emu_cur->nctaid[0])
#define NCTAID_Y (emu_cur->nctaid[1])
#define SYNC() emu_sync()
#define SQRTF(x) sqrtf(x)
#define FMAF(a, b, c) fmaf(a, b, c)
#define UNROLL
#else
#include <math.h>
#define DEVFN static inline
#define SQRTF(x) sqrtf(x)
#define FMAF(a, b, c) fmaf(a, b, c)
#define UNROLL
#endif

typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// ---------------------------------------------------------------------------------------------
// Device math without libdevice. Both are the classic fdlibm-style reductions:
//   exp(x) = 2^k * exp(r),  x = k ln2 + r, |r| <= ln2/2, exp(r) from a rational approximation;
//   log(x) = k ln2 + log(1 + f), x = 2^k (1 + f), sqrt(1/2) <= 1 + f < sqrt(2),
//            log(1 + f) = 2 atanh(s), s = f / (2 + f), as a polynomial in s^2.
// build_ptx.sh measures their error against the C library on a sweep (<= 1 ulp expected).
// ---------------------------------------------------------------------------------------------

DEVFN float bits_to_float(u32 b) {
  union {
    u32 u;
    float f;
  } c;
  c.u = b;
  return c.f;
}

DEVFN u32 float_to_bits(float f) {
  union {
    u32 u;
    float f;
  } c;
  c.f = f;
  return c.u;
}

DEVFN int is_nan(float x) { return x != x; }

// 2^k as a float, for -126 <= k <= 127.
DEVFN float pow2i(int k) { return bits_to_float((u32)(k + 127) << 23); }

DEVFN float expf_acc(float x) {
  if (is_nan(x)) return x;
  if (x > 88.72283935546875f) return bits_to_float(0x7f800000u);  // +inf
  if (x < -103.97208404541016f) return 0.0f;
  const float ln2_hi = 6.9314575195e-01f, ln2_lo = 1.4286067653e-06f;
  const float inv_ln2 = 1.4426950216e+00f;
  const float P1 = 1.6666625440e-01f, P2 = -2.7667332906e-03f;
  float kf = x * inv_ln2;
  int k = (int)(kf < 0.0f ? kf - 0.5f : kf + 0.5f);
  float hi = x - (float)k * ln2_hi;
  float lo = (float)k * ln2_lo;
  float r = hi - lo;
  float rr = r * r;
  float c = r - rr * (P1 + rr * P2);
  float y = 1.0f + ((r * c) / (2.0f - c) - lo + hi);
  // y in [0.7, 1.5]; scale by 2^k in two steps so subnormal results stay exact-ish.
  if (k < -125) return (y * pow2i(k + 100)) * pow2i(-100);
  if (k > 127) return (y * pow2i(k - 1)) * 2.0f;
  return y * pow2i(k);
}

DEVFN float logf_acc(float x) {
  if (is_nan(x) || x < 0.0f) return bits_to_float(0x7fc00000u);  // NaN
  if (x == 0.0f) return bits_to_float(0xff800000u);                // -inf
  if (x == bits_to_float(0x7f800000u)) return x;                   // +inf
  const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
  const float Lg1 = 6.6666662693e-01f, Lg2 = 4.0000972152e-01f;
  const float Lg3 = 2.8498786688e-01f, Lg4 = 2.4279078841e-01f;
  int k = 0;
  u32 ix = float_to_bits(x);
  if (ix < 0x00800000u) {  // subnormal: scale up by 2^25
    k -= 25;
    ix = float_to_bits(x * 33554432.0f);
  }
  // Reduce to 1 + f in [sqrt(1/2), sqrt(2)).
  ix += 0x3f800000u - 0x3f3504f3u;
  k += (int)(ix >> 23) - 127;
  ix = (ix & 0x007fffffu) + 0x3f3504f3u;
  float f = bits_to_float(ix) - 1.0f;
  float s = f / (2.0f + f);
  float z = s * s;
  float w = z * z;
  float t1 = w * (Lg2 + w * Lg4);
  float t2 = z * (Lg1 + w * Lg3);
  float R = t2 + t1;
  float hfsq = 0.5f * f * f;
  float dk = (float)k;
  return s * (hfsq + R) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
}

// log(1 + t) for t >= 0 with a correction for the rounding of 1 + t.
DEVFN float log1pf_acc(float t) {
  float u = 1.0f + t;
  if (u == 1.0f) return t;
  return logf_acc(u) * (t / (u - 1.0f));
}

// ---------------------------------------------------------------------------------------------
// Activations: codes match `Activation` in src/numerics/activation.rs (see act_code in src/backend/cuda/batch.rs).
// 0 quad u^2 | 1 relu max(u,0) | 2 abs |u| | 3 pow4 u^4 | 4 pow8 u^8 | 5 softplus2 log(1+e^{2u})
// 6 exp e^u | 7 identity u | 8 cube u^3.  Derivatives as in src/numerics/activation.rs (relu'(0) = 0).
// ---------------------------------------------------------------------------------------------

DEVFN float act_value(int act, float u) {
  switch (act) {
    case 0: return u * u;
    case 1: return u > 0.0f ? u : 0.0f;
    case 2: return u < 0.0f ? -u : u;
    case 3: { float s = u * u; return s * s; }
    case 4: { float s = u * u; float q = s * s; return q * q; }
    case 5: {
      float t = u + u;
      float at = t < 0.0f ? -t : t;
      return (t > 0.0f ? t : 0.0f) + log1pf_acc(expf_acc(-at));
    }
    case 6: return expf_acc(u);
    case 7: return u;
    default: return u * u * u;
  }
}

DEVFN float act_deriv(int act, float u) {
  switch (act) {
    case 0: return 2.0f * u;
    case 1: return u > 0.0f ? 1.0f : 0.0f;
    case 2: return u > 0.0f ? 1.0f : (u < 0.0f ? -1.0f : 0.0f);
    case 3: return 2.0f * 2.0f * u * u * u;
    case 4: { float s = u * u; float q = s * s; return 8.0f * q * s * u; }
    case 5: {
      float t = u + u;
      if (t >= 0.0f) return 2.0f / (1.0f + expf_acc(-t));
      float e = expf_acc(t);
      return 2.0f * e / (1.0f + e);
    }
    case 6: return expf_acc(u);
    case 7: return 1.0f;
    default: return 3.0f * u * u;
  }
}

#if defined(__CUDA__) || defined(MODADD_KERNEL_EMU)

// ---------------------------------------------------------------------------------------------
// First layer: h[r, m] = W_x[m, x_r] + W_y[m, y_r];  A[r, m] = sigma(h);  DH[r, m] = sigma'(h)
// (DH skipped when null). W_y = W_x for the tied model. Thread (m, r): m from blockIdx.x and the
// thread, r from blockIdx.y striding by gridDim.y (no 64-bit division).
// ---------------------------------------------------------------------------------------------
KERNEL void first_layer(const float* __restrict__ w_x, const float* __restrict__ w_y,
                        const u32* __restrict__ xs, const u32* __restrict__ ys, int rows, int width,
                        int act, float* __restrict__ a, float* __restrict__ dh) {
  int m = CTAID_X * NTID_X + TID_X;
  if (m >= width) return;
  for (int r = CTAID_Y; r < rows; r += NCTAID_Y) {
    float h = w_x[(i64)xs[r] * width + m] + w_y[(i64)ys[r] * width + m];
    i64 e = (i64)r * width + m;
    a[e] = act_value(act, h);
    if (dh) dh[e] = act_deriv(act, h);
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM with arbitrary strides:  C[i*ldc + j] = sum_k A(i, k) B(k, j)   (times D[i*ldc + j] when
// D is not null), A(i, k) = a[i*sai + k*sak], B(k, j) = b[k*sbk + j*sbj], 0 <= i < nr,
// 0 <= j < nc, 0 <= k < nk. C may alias D (used in place: DH <- DA * DH).
// Split K: block z = s sums only k in [s*kchunk, min((s+1)*kchunk, nk)) and writes its partial
// result to c + s*split_stride (kchunk a multiple of 16; one split: kchunk >= nk, stride 0);
// sum_splits then adds the partials in the order s = 0, 1, ... (D must be null when split).
// A 64 x 64 output tile per block of 256 threads, 4 x 4 per thread, k in slices of 16 through
// shared memory. Each output of a split is one fmaf chain over its k in increasing order, from 0
// (deterministic; the zero padding of the last slice adds exact fmaf(0, 0, acc) steps).
// ---------------------------------------------------------------------------------------------
#define TBM 64
#define TBN 64
#define TBK 16

KERNEL void gemm_f32(int nr, int nc, int nk, const float* __restrict__ a, i64 sai, i64 sak,
                     const float* __restrict__ b, i64 sbk, i64 sbj, float* c, i64 ldc,
                     const float* d, int kchunk, i64 split_stride) {
  SHARED float As[TBK][TBM + 1];
  SHARED float Bs[TBK][TBN + 1];
  int tid = TID_X;
  int tx = tid & 15, ty = tid >> 4;
  i64 i0 = (i64)CTAID_Y * TBM, j0 = (i64)CTAID_X * TBN;
  int kbeg = CTAID_Z * kchunk;
  int kend = nk - kbeg < kchunk ? nk : kbeg + kchunk;
  c += (i64)CTAID_Z * split_stride;
  float acc[4][4];
  for (int u = 0; u < 4; ++u)
    for (int v = 0; v < 4; ++v) acc[u][v] = 0.0f;
  for (int k0 = kbeg; k0 < kend; k0 += TBK) {
    for (int q = 0; q < 4; ++q) {
      int e = tid + q * 256;
      int ii, kk;
      if (sak == 1) { kk = e & 15; ii = e >> 4; } else { ii = e & 63; kk = e >> 6; }
      i64 gi = i0 + ii, gk = (i64)k0 + kk;
      As[kk][ii] = (gi < nr && gk < kend) ? a[gi * sai + gk * sak] : 0.0f;
      int jj;
      if (sbk == 1) { kk = e & 15; jj = e >> 4; } else { jj = e & 63; kk = e >> 6; }
      i64 gj = j0 + jj;
      gk = (i64)k0 + kk;
      Bs[kk][jj] = (gj < nc && gk < kend) ? b[gk * sbk + gj * sbj] : 0.0f;
    }
    SYNC();
    for (int kk = 0; kk < TBK; ++kk) {
      float av[4], bv[4];
      for (int u = 0; u < 4; ++u) av[u] = As[kk][ty + 16 * u];
      for (int v = 0; v < 4; ++v) bv[v] = Bs[kk][tx + 16 * v];
      for (int u = 0; u < 4; ++u)
        for (int v = 0; v < 4; ++v) acc[u][v] = FMAF(av[u], bv[v], acc[u][v]);
    }
    SYNC();
  }
  for (int u = 0; u < 4; ++u) {
    i64 i = i0 + ty + 16 * u;
    if (i >= nr) continue;
    for (int v = 0; v < 4; ++v) {
      i64 j = j0 + tx + 16 * v;
      if (j >= nc) continue;
      float val = acc[u][v];
      if (d) val = val * d[i * ldc + j];
      c[i * ldc + j] = val;
    }
  }
}

// The same product (same arguments, same per-output fmaf chain over k in increasing order, so
// the same bits) with a 128 x 128 output tile per block of 256 threads, 8 x 8 outputs per thread
// and k in slices of 8: four fmaf per shared-memory load instead of two. For products whose
// output has at least 128 rows and 64 columns.
#define WBM 128
#define WBN 128
#define WBK 8

KERNEL void gemm_f32_wide(int nr, int nc, int nk, const float* __restrict__ a, i64 sai, i64 sak,
                          const float* __restrict__ b, i64 sbk, i64 sbj, float* c, i64 ldc,
                          const float* d, int kchunk, i64 split_stride) {
  SHARED float Aw[WBK][WBM + 1];
  SHARED float Bw[WBK][WBN + 1];
  int tid = TID_X;
  int tx = tid & 15, ty = tid >> 4;
  i64 i0 = (i64)CTAID_Y * WBM, j0 = (i64)CTAID_X * WBN;
  int kbeg = CTAID_Z * kchunk;
  int kend = nk - kbeg < kchunk ? nk : kbeg + kchunk;
  c += (i64)CTAID_Z * split_stride;
  float acc[8][8];
  UNROLL for (int u = 0; u < 8; ++u)
    UNROLL for (int v = 0; v < 8; ++v) acc[u][v] = 0.0f;
  for (int k0 = kbeg; k0 < kend; k0 += WBK) {
    UNROLL for (int q = 0; q < 4; ++q) {
      int e = tid + q * 256;
      int ii, kk;
      if (sak == 1) { kk = e & 7; ii = e >> 3; } else { ii = e & 127; kk = e >> 7; }
      i64 gi = i0 + ii, gk = (i64)k0 + kk;
      Aw[kk][ii] = (gi < nr && gk < kend) ? a[gi * sai + gk * sak] : 0.0f;
      int jj;
      if (sbk == 1) { kk = e & 7; jj = e >> 3; } else { jj = e & 127; kk = e >> 7; }
      i64 gj = j0 + jj;
      gk = (i64)k0 + kk;
      Bw[kk][jj] = (gj < nc && gk < kend) ? b[gk * sbk + gj * sbj] : 0.0f;
    }
    SYNC();
    UNROLL for (int kk = 0; kk < WBK; ++kk) {
      float av[8], bv[8];
      UNROLL for (int u = 0; u < 8; ++u) av[u] = Aw[kk][ty + 16 * u];
      UNROLL for (int v = 0; v < 8; ++v) bv[v] = Bw[kk][tx + 16 * v];
      UNROLL for (int u = 0; u < 8; ++u)
        UNROLL for (int v = 0; v < 8; ++v) acc[u][v] = FMAF(av[u], bv[v], acc[u][v]);
    }
    SYNC();
  }
  UNROLL for (int u = 0; u < 8; ++u) {
    i64 i = i0 + ty + 16 * u;
    if (i >= nr) continue;
    UNROLL for (int v = 0; v < 8; ++v) {
      i64 j = j0 + tx + 16 * v;
      if (j >= nc) continue;
      float val = acc[u][v];
      if (d) val = val * d[i * ldc + j];
      c[i * ldc + j] = val;
    }
  }
}

// out[e] = ((ws[e] + ws[stride + e]) + ws[2 stride + e]) + ...  over `splits` partials, e < n.
KERNEL void sum_splits(const float* __restrict__ ws, int splits, i64 stride, i64 n,
                       float* __restrict__ out) {
  i64 step = (i64)NCTAID_X * NTID_X;
  for (i64 e = (i64)CTAID_X * NTID_X + TID_X; e < n; e += step) {
    float acc = ws[e];
    for (int s = 1; s < splits; ++s) acc = acc + ws[(i64)s * stride + e];
    out[e] = acc;
  }
}

// ---------------------------------------------------------------------------------------------
// Loss, accuracy and dL/dz per row; one thread per row, the same operation order as
// Loss::pair_loss_and_grad in src/numerics/loss.rs.
//   loss_kind 0 (cross-entropy): l = max + log(sum_j e^{z_j - max}) - z_c;
//                                dl/dz = softmax(z) - e_c
//   loss_kind 1 (MSE):           l = sum_j (z_j - 1{j=c})^2;  dl/dz = 2 (z - e_c)
// correct = (argmax_j z_j == c), ties to the smallest index, any NaN logit = wrong.
// With splits > 1 the logits first come from the split-K partials of the logits product,
// z_r[j] = ((parts[r p + j] + parts[stride + r p + j]) + ...), as sum_splits would add them.
// row_loss[r] = w_r l_r, row_correct[r] = w_r correct_r (f64). With want_grad, z_r is replaced
// by scale_r * dl/dz (scale_r = s * w_r, s = 1/n or 1).
// ---------------------------------------------------------------------------------------------
KERNEL void loss_rows(float* __restrict__ z, int rows, int p, const u32* __restrict__ labels,
                      const float* __restrict__ weight, const float* __restrict__ scale,
                      int loss_kind, int want_grad, double* __restrict__ row_loss,
                      double* __restrict__ row_correct, const float* __restrict__ parts,
                      int splits, i64 stride) {
  int r = CTAID_X * NTID_X + TID_X;
  if (r >= rows) return;
  float* zr = z + (i64)r * p;
  if (splits > 1) {
    const float* pr = parts + (i64)r * p;
    for (int j = 0; j < p; ++j) {
      float acc = pr[j];
      for (int s = 1; s < splits; ++s) acc = acc + pr[(i64)s * stride + j];
      zr[j] = acc;
    }
  }
  int c = (int)labels[r];
  double w = (double)weight[r];
  // argmax with ties to the smallest index; NaN -> no argmax.
  int best = 0, nan = 0;
  for (int j = 0; j < p; ++j) {
    float v = zr[j];
    if (is_nan(v)) { nan = 1; break; }
    if (v > zr[best]) best = j;
  }
  row_correct[r] = (!nan && best == c) ? w : 0.0;
  double l;
  if (loss_kind == 0) {
    float mx = bits_to_float(0xff800000u);
    for (int j = 0; j < p; ++j)
      if (zr[j] > mx) mx = zr[j];
    if (!(mx > bits_to_float(0xff800000u) && mx < bits_to_float(0x7f800000u))) {
      row_loss[r] = w * (double)bits_to_float(0x7fc00000u);
      if (want_grad)
        for (int j = 0; j < p; ++j) zr[j] = bits_to_float(0x7fc00000u);
      return;
    }
    float zc = zr[c];
    float s = 0.0f;
    if (want_grad) {
      for (int j = 0; j < p; ++j) {
        float e = expf_acc(zr[j] - mx);
        zr[j] = e;
        s = s + e;
      }
      float inv = 1.0f / s;
      float f = scale[r];
      for (int j = 0; j < p; ++j) {
        float g = zr[j] * inv;
        if (j == c) g = g - 1.0f;
        zr[j] = g * f;
      }
    } else {
      for (int j = 0; j < p; ++j) s = s + expf_acc(zr[j] - mx);
    }
    l = ((double)mx + (double)logf_acc(s)) - (double)zc;
  } else {
    l = 0.0;
    float f = want_grad ? scale[r] : 0.0f;
    for (int j = 0; j < p; ++j) {
      float dd = j == c ? zr[j] - 1.0f : zr[j];
      l += (double)dd * (double)dd;
      if (want_grad) zr[j] = (2.0f * dd) * f;
    }
  }
  row_loss[r] = w * l;
}

// ---------------------------------------------------------------------------------------------
// Two sums in f64 in a fixed order by one block of 256 threads:
//   out[0] = sum_{i<n} x[i],  out[1] = sum_{i<n} y[i]   (out[k] += ... when accumulate != 0).
// ---------------------------------------------------------------------------------------------
KERNEL void reduce2(const double* __restrict__ x, const double* __restrict__ y, int n,
                    double* __restrict__ out, int accumulate) {
  SHARED double sx[256];
  SHARED double sy[256];
  int t = TID_X;
  double ax = 0.0, ay = 0.0;
  for (int i = t; i < n; i += 256) {
    ax += x[i];
    ay += y[i];
  }
  sx[t] = ax;
  sy[t] = ay;
  SYNC();
  for (int h = 128; h > 0; h >>= 1) {
    if (t < h) {
      sx[t] += sx[t + h];
      sy[t] += sy[t + h];
    }
    SYNC();
  }
  if (t == 0) {
    out[0] = accumulate ? out[0] + sx[0] : sx[0];
    out[1] = accumulate ? out[1] + sy[0] : sy[0];
  }
}

// ---------------------------------------------------------------------------------------------
// Backward into the first layer as a gather (no atomics):
//   G[m + v*M] = sum_{r in rows_of(v)} DH[r*M + m]
// rows_of(v) = list[offs[v] .. offs[v+1]], built on the host in increasing row order: for the
// tied model every row r with x_r = v and every row with y_r = v (a row with x_r = y_r = v twice);
// for the untied model one list per operand. One thread per (m, v).
// ---------------------------------------------------------------------------------------------
KERNEL void scatter_first(const float* __restrict__ dh, int width, const int* __restrict__ offs,
                          const int* __restrict__ list, float* __restrict__ g) {
  int m = CTAID_X * NTID_X + TID_X;
  int v = CTAID_Y;
  if (m >= width) return;
  float acc = 0.0f;
  for (int q = offs[v]; q < offs[v + 1]; ++q) acc = acc + dh[(i64)list[q] * width + m];
  g[(i64)v * width + m] = acc;
}

// ---------------------------------------------------------------------------------------------
// Optimisers over the concatenated parameter vector (W_in, W_out[, W_in_y]), as src/numerics/optim.rs:
//   SGD:   w <- w - lr (g + wd w)
//   AdamW: w' = w (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
//          w <- w' - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// with decay = 1 - lr wd, step = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t) computed on the
// host in f32 exactly as the CPU optimiser does. Before updating, each block b of a fixed grid
// of OPT_BLOCKS x 256 threads writes partial[b] = sum w^2 and partial[OPT_BLOCKS + b] = sum g^2
// (f64) over its grid-stride share; reduce2 then gives the parameter and gradient norms.
// ---------------------------------------------------------------------------------------------
#define OPT_BLOCKS 256

DEVFN void block_partials(double pw, double pg, double* partial) {
  SHARED double sw[256];
  SHARED double sg[256];
  int t = TID_X;
  sw[t] = pw;
  sg[t] = pg;
  SYNC();
  for (int h = 128; h > 0; h >>= 1) {
    if (t < h) {
      sw[t] += sw[t + h];
      sg[t] += sg[t + h];
    }
    SYNC();
  }
  if (t == 0) {
    partial[CTAID_X] = sw[0];
    partial[OPT_BLOCKS + CTAID_X] = sg[0];
  }
}

KERNEL void sgd_step(float* __restrict__ w, const float* __restrict__ g, i64 n, float lr,
                     float wd, double* __restrict__ partial) {
  double pw = 0.0, pg = 0.0;
  i64 stride = (i64)NCTAID_X * NTID_X;
  for (i64 i = (i64)CTAID_X * NTID_X + TID_X; i < n; i += stride) {
    float wi = w[i], gi = g[i];
    pw += (double)wi * (double)wi;
    pg += (double)gi * (double)gi;
    w[i] = wi - lr * (gi + wd * wi);
  }
  block_partials(pw, pg, partial);
}

KERNEL void adamw_step(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                       float* __restrict__ v, i64 n, float decay, float b1, float b2, float step,
                       float bc2_sqrt, float eps, double* __restrict__ partial) {
  double pw = 0.0, pg = 0.0;
  i64 stride = (i64)NCTAID_X * NTID_X;
  float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
  for (i64 i = (i64)CTAID_X * NTID_X + TID_X; i < n; i += stride) {
    float wi0 = w[i], gi = g[i];
    pw += (double)wi0 * (double)wi0;
    pg += (double)gi * (double)gi;
    float wi = wi0 * decay;
    float mi = b1 * m[i] + one_b1 * gi;
    float vi = b2 * v[i] + one_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - step * mi / (SQRTF(vi) / bc2_sqrt + eps);
  }
  block_partials(pw, pg, partial);
}

#endif  // __CUDA__ || MODADD_KERNEL_EMU
