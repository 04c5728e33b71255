//! One launch of the GEMM kernels and its split-K plan (a rule of the shapes only).

use crate::backend::cuda::buffers::BufferOffset;
/// One launch of `gemm_f32`: `C[i ldc + j] = sum_k A[i sai + k sak] B[k sbk + j sbj]`
/// (times the old `C[i ldc + j]` when `scale_by_c`), i < nr, j < nc, k < nk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmCall {
    /// Rows of C.
    pub nr: usize,
    /// Columns of C.
    pub nc: usize,
    /// Inner dimension.
    pub nk: usize,
    /// A and its strides.
    pub a: BufferOffset,
    /// Stride of A along i.
    pub sai: usize,
    /// Stride of A along k.
    pub sak: usize,
    /// B and its strides.
    pub b: BufferOffset,
    /// Stride of B along k.
    pub sbk: usize,
    /// Stride of B along j.
    pub sbj: usize,
    /// C (row stride `ldc`, unit column stride).
    pub c: BufferOffset,
    /// Row stride of C.
    pub ldc: usize,
    /// Multiply by the old C elementwise (the kernel's D = C).
    pub scale_by_c: bool,
    /// Split K: split s sums k in [s kchunk, min((s + 1) kchunk, nk)) (a multiple of 16, or
    /// >= nk for one split).
    pub kchunk: usize,
    /// Number of splits (grid z).
    pub splits: usize,
    /// Distance between the splits' partial results in C (0 for one split).
    pub split_stride: usize,
}

/// Blocks a split-K product aims at (a shape-only rule, so the summation order, and with it
/// every bit of the result, does not depend on the device; about 2 per SM of an H100).
pub const SPLIT_TARGET_BLOCKS: usize = 264;
/// Smallest product (multiply-adds) run on 128 x 128 tiles.
pub const WIDE_MIN_FMA: usize = 1 << 24;
/// Fewest k per split.
pub const SPLIT_MIN_K: usize = 64;

impl GemmCall {
    /// Output tile edge of the kernel that runs this product: 128 (`gemm_f32_wide`, 8 x 8
    /// outputs per thread) when C has at least 128 rows and 64 columns and the product at least
    /// [`WIDE_MIN_FMA`] multiply-adds, else 64 (`gemm_f32`, 4 x 4 per thread: more blocks for
    /// small products). Both give the same bits (one fma chain per output over increasing k).
    pub fn tile(&self) -> usize {
        if self.nr >= 128 && self.nc >= 64 && self.nr * self.nc * self.nk >= WIDE_MIN_FMA {
            128
        } else {
            64
        }
    }

    /// The kernel's name for [`GemmCall::tile`].
    pub fn kernel(&self) -> &'static str {
        if self.tile() == 128 {
            "gemm_f32_wide"
        } else {
            "gemm_f32"
        }
    }

    /// How a product is split along k: `(kchunk, splits)`. One split when the output already
    /// has [`SPLIT_TARGET_BLOCKS`] tiles ([`GemmCall::tile`]), when the product scales C in place, or when
    /// C is not contiguous; else enough splits of at least [`SPLIT_MIN_K`] (rounded up to 16) to
    /// approach the target.
    pub fn split_plan(&self) -> (usize, usize) {
        let t = self.tile();
        let tiles = self.nr.div_ceil(t) * self.nc.div_ceil(t);
        let want = SPLIT_TARGET_BLOCKS.div_ceil(tiles.max(1));
        let most = (self.nk / SPLIT_MIN_K).max(1);
        let splits = want.min(most);
        if splits <= 1 || self.scale_by_c || self.ldc != self.nc {
            return (self.nk.max(1), 1);
        }
        let kchunk = self.nk.div_ceil(splits).div_ceil(16) * 16;
        (kchunk, self.nk.div_ceil(kchunk))
    }
}
