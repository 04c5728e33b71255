//! The CUDA backend (feature `cuda`, off by default): the whole training step on the GPU in f32.
//!
//! The API always compiles. Without the feature, [`cuda_available`] and [`CudaBackend::new`]
//! return [`Error::BackendUnavailable`] and [`CudaBackend`] cannot be constructed; with it, they
//! talk to the driver through `cust` and fail with the same error when there is no driver or no
//! device. (A `--features cuda` binary links `libcuda.so.1` dynamically, so it needs the NVIDIA
//! driver's library installed to start at all; the default build needs nothing.)
//!
//! # What runs where
//! The prepared pairs (see [`crate::grad::Batch`]: the tied model's (x, y)/(y, x) rows merged
//! with weight 2), the weights, the gradient and the optimiser state stay on the device. One
//! step (kernels in `kernels/train_step.cu`, embedded as PTX) is
//! ```text
//! first_layer    h[r, m] = W_in[m, x_r] + W_in'[m, y_r];  A = sigma(h);  DH = sigma'(h)
//! gemm_f32[_wide] Z (R x p) = A (R x M) W_out^T (M x p)                       logits
//! loss_rows      per row: loss l_r, correct_r (argmax, ties -> smallest index),
//!                Z <- G = s w_r dl/dz  (s = 1/n or 1, w_r the row's multiplicity)
//! reduce2        sum_r w_r l_r, sum_r w_r correct_r (f64)  -> stats
//! gemm_f32[_wide] dW_out^T (M x p) = A^T (M x R) G (R x p)   (+ sum_splits when split)
//! gemm_f32[_wide] DH <- (G (R x p) W_out (p x M)) * DH        (dL/dh)
//! scatter_first  dW_in[m, v] = sum over rows r with x_r = v, and rows with y_r = v, of DH[r, m]
//! sgd_step | adamw_step   the update of src/optim.rs over all parameters at once, also
//!                summing ||w||^2 (before the update) and ||g||^2 (f64)
//! reduce2        -> stats
//! ```
//! A product whose output has few tiles but a long k (the logits and dW_out at small p) is
//! split along k ([`GemmCall::split_plan`], a rule of the shapes only): split s writes its
//! partial product to a workspace, and `sum_splits` (or, for the logits, `loss_rows` itself)
//! adds the partials in split order. Large products run on 128 x 128 tiles
//! ([`GemmCall::tile`]); both GEMM kernels compute each output as one fma chain over
//! increasing k. Every reduction has a fixed order (no atomics), so the backend is
//! deterministic and its results do not depend on the device.
//!
//! Per-step scalars go into a device buffer of f64 and come back in batches
//! ([`CudaBackend::run_epochs`]); the [`Backend`] methods fetch them after each call. Weights
//! and optimiser state come back only through [`Backend::network`] / [`Backend::optimizer`].
//! Every launch is described once ([`spec`]: kernel, geometry from [`geom`], arguments in the
//! kernel's order) and checked against the PTX's parameter list ([`ptx_params`]) before it
//! runs.
//!
//! # Agreement with the CPU backend
//! The elementwise parts (first layer, activations, loss, optimisers) perform the CPU's f32
//! operations in the CPU's order, with `exp`/`log` of at most 1 ulp error (no libdevice: own
//! fdlibm-style `expf_acc`/`logf_acc`, checked by `kernels/build_ptx.sh` and by
//! `tests/cuda_parity.rs` through the twin's copy). The three matrix products sum in another
//! order than the CPU's `matrixmultiply`, so losses and gradients agree to f32 rounding, not
//! bit for bit; the tolerances are stated in `tests/cuda_parity.rs`.
//!
//! # The CPU twin and the host emulation
//! [`twin::CudaTwin`] runs the same sequence of kernel launches (the orchestration is shared:
//! [`Kernels`] is implemented by the device and by the host), each kernel replaced by a Rust
//! function that performs the kernel's f32/f64 operations in the kernel's order, with the
//! kernel's thread and block decomposition for every reduction. The PTX is compiled without
//! floating-point contraction (every `add`/`mul` is `.rn`, so `ptxas` may not fuse them) and the
//! GEMMs' `fmaf` is `f32::mul_add`, so the device should reproduce the twin bit for bit.
//! With the feature `kernel-emu`, `CudaTwin::new_emulated` runs instead the C source of the
//! kernels compiled for the host, launched from the same [`spec`]s with the device's geometry
//! (blocks in sequence, a block's threads as fibers meeting at each barrier); it reproduces
//! the twin bit for bit. `tests/cuda_parity.rs` holds the twin to the CPU backend always, the
//! emulation to the twin with `kernel-emu`, and the device to both when a GPU is present.

use crate::error::{Error, Result};
use crate::grad::{Batch, Eval, Grads};
use crate::loss::Loss;
use crate::model::{Activation, Network, Tying};
use crate::optim::{AdamW, Optimizer, Sgd};
use crate::task::Split;
use nalgebra::DMatrix;

use super::{Backend, StepStats};

#[cfg(feature = "cuda")]
mod device;
pub mod twin;

/// The PTX of `kernels/train_step.cu` (built by `kernels/build_ptx.sh`, hash-checked in CI).
pub const PTX: &str = include_str!("../../kernels/train_step.ptx");

/// Blocks of the optimiser kernels (fixed, so the order of the norm sums does not depend on the
/// device). Equals `OPT_BLOCKS` in `kernels/train_step.cu`.
pub const OPT_BLOCKS: usize = 256;
/// Threads per block of the optimiser and reduction kernels.
pub const BLOCK: usize = 256;
/// f64 slots per epoch in the statistics buffer: train loss sum, train correct sum, ||w||^2,
/// ||g||^2, test loss sum, test correct sum, two spare.
pub const SLOT: usize = 8;
/// Epochs whose statistics are gathered on the device before one copy to the host.
pub const STATS_BATCH: usize = 1024;

/// The measurements of one epoch taken by [`CudaBackend::run_epochs`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Test loss and accuracy before the update (`None` for a full split).
    pub test: Option<Eval>,
    /// Training measurements before the update.
    pub step: StepStats,
}

/// Kernel code of an activation (the `act` argument of the kernels).
pub fn act_code(act: Activation) -> i32 {
    match act {
        Activation::Quad => 0,
        Activation::Relu => 1,
        Activation::Abs => 2,
        Activation::Pow4 => 3,
        Activation::Pow8 => 4,
        Activation::Softplus2 => 5,
        Activation::Exp => 6,
        Activation::Identity => 7,
        Activation::Cube => 8,
    }
}

/// For each input value v in 0..p, the rows whose first-layer gradient lands in column v, in
/// increasing row order (the CPU's accumulation order), as CSR offsets (p + 1) and row list.
///
/// `operands` lists the operand of every row for each slot feeding this column set: for the tied
/// model `[x, y]` (a row with x = y = v then appears twice), for an untied matrix `[x]` or `[y]`.
/// With these, `dL/dW_in[m, v] = sum_{r in list(v)} dL/dh[r, m]` is a gather (no atomics).
pub fn first_layer_lists(p: usize, operands: &[&[u32]]) -> (Vec<i32>, Vec<i32>) {
    let rows = operands.first().map_or(0, |o| o.len());
    let mut count = vec![0i32; p + 1];
    for o in operands {
        for &v in o.iter() {
            count[v as usize + 1] += 1;
        }
    }
    for v in 0..p {
        count[v + 1] += count[v];
    }
    let offs = count.clone();
    let mut next = count;
    let mut list = vec![0i32; offs[p] as usize];
    for r in 0..rows {
        for o in operands {
            let v = o[r] as usize;
            list[next[v] as usize] = r as i32;
            next[v] += 1;
        }
    }
    (offs, list)
}

/// A prepared batch as the kernels read it.
#[derive(Clone, Debug)]
pub struct KernelBatch {
    /// Rows (after merging).
    pub rows: usize,
    /// Ordered pairs represented (the n of the mean losses).
    pub n: usize,
    /// Operands and labels per row.
    pub x: Vec<u32>,
    /// Second operands.
    pub y: Vec<u32>,
    /// Labels.
    pub label: Vec<u32>,
    /// Row multiplicities w_r.
    pub weight: Vec<f32>,
    /// `s * w_r` in f32 (s = 1/n or 1): the factor of dl/dz, as the CPU computes it.
    pub scale: Vec<f32>,
    /// First-layer gradient lists ([`first_layer_lists`]): one for W_in, a second for W_in_y.
    pub lists: Vec<(Vec<i32>, Vec<i32>)>,
}

impl KernelBatch {
    /// Prepares `pairs` as [`Batch::new`] does, plus the kernels' extras.
    pub fn new(pairs: &[crate::task::Pair], p: usize, tying: Tying, loss: Loss) -> Self {
        let b = Batch::<f32>::new(pairs, tying);
        let s = loss.normalisation(b.n) as f32;
        let scale = b.weight.iter().map(|&w| s * w).collect();
        let lists = match tying {
            Tying::Tied => vec![first_layer_lists(p, &[&b.x, &b.y])],
            Tying::Untied => vec![first_layer_lists(p, &[&b.x]), first_layer_lists(p, &[&b.y])],
        };
        KernelBatch {
            rows: b.rows(),
            n: b.n,
            x: b.x,
            y: b.y,
            label: b.label,
            weight: b.weight,
            scale,
            lists,
        }
    }
}

/// Device (or twin) buffers the kernels address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    /// W_in | W_out [| W_in_y], the host layouts concatenated.
    Params,
    /// The gradient, laid out like `Params`.
    Grads,
    /// AdamW first moments, like `Params`.
    AdamM,
    /// AdamW second moments, like `Params`.
    AdamV,
    /// sigma(h), rows x M row-major.
    Act,
    /// sigma'(h), then dL/dh, train rows x M row-major.
    Dh,
    /// Logits, then G = s w dl/dz, rows x p row-major.
    Z,
    /// Per-row loss (f64).
    RowLoss,
    /// Per-row correct (f64).
    RowCorrect,
    /// Optimiser partial sums (f64, 2 x OPT_BLOCKS).
    Partial,
    /// Per-epoch statistics (f64, SLOT x STATS_BATCH).
    Stats,
    /// Split-K partial products (f32, [`Layout::split_len`]).
    SplitK,
}

/// An element offset into a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// The buffer.
    pub buf: Buf,
    /// Offset in elements.
    pub off: usize,
}

fn at(buf: Buf, off: usize) -> At {
    At { buf, off }
}

/// Which prepared batch a kernel reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel {
    /// The training pairs.
    Train,
    /// The test pairs.
    Test,
}

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
    pub a: At,
    /// Stride of A along i.
    pub sai: usize,
    /// Stride of A along k.
    pub sak: usize,
    /// B and its strides.
    pub b: At,
    /// Stride of B along k.
    pub sbk: usize,
    /// Stride of B along j.
    pub sbj: usize,
    /// C (row stride `ldc`, unit column stride).
    pub c: At,
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

/// The scalars of one AdamW update, computed in f32 exactly as `src/optim.rs` does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// 1 - lr wd.
    pub decay: f32,
    /// beta1.
    pub b1: f32,
    /// beta2.
    pub b2: f32,
    /// lr / (1 - b1^t).
    pub step: f32,
    /// sqrt(1 - b2^t).
    pub bc2_sqrt: f32,
    /// eps.
    pub eps: f32,
}

/// The kernels of `kernels/train_step.cu` and the buffer traffic around them, implemented by
/// the device (cust) and by the host twin. Arguments mirror the kernels'.
#[allow(clippy::too_many_arguments)]
pub trait Kernels {
    /// Makes the executor usable on the calling thread (the device: sets its context current).
    fn begin(&self) -> Result<()>;
    /// `first_layer`: A = sigma(h), DH = sigma'(h) when `with_dh`.
    fn first_layer(
        &mut self,
        w_x: At,
        w_y: At,
        sel: Sel,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()>;
    /// `gemm_f32`.
    fn gemm(&mut self, call: &GemmCall) -> Result<()>;
    /// `sum_splits`: `out[e] = sum over s < splits (in order) of ws[s stride + e]`, e < n.
    fn sum_splits(&mut self, ws: At, splits: usize, stride: usize, n: usize, out: At)
        -> Result<()>;
    /// `loss_rows` on Z, RowLoss, RowCorrect.
    /// With `parts = Some((ws, splits, stride))` the logits are first summed from the split-K
    /// partials (as `sum_splits` would) into Z.
    fn loss_rows(
        &mut self,
        sel: Sel,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(At, usize, usize)>,
    ) -> Result<()>;
    /// `reduce2`: `out[0] = sum x[..n]`, `out[1] = sum y[..n]`.
    fn reduce2(&mut self, x: At, y: At, n: usize, out: At) -> Result<()>;
    /// `scatter_first` with the training batch's list `list` from DH into `g`.
    fn scatter_first(&mut self, list: usize, width: usize, p: usize, g: At) -> Result<()>;
    /// `sgd_step` over Params/Grads (n entries), partial sums into Partial.
    fn sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()>;
    /// `adamw_step` over Params/Grads/AdamM/AdamV, partial sums into Partial.
    fn adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()>;
    /// Reads `len` f32 of Params, Grads, AdamM or AdamV (after all queued work).
    fn read_f32(&self, buf: Buf, len: usize) -> Result<Vec<f32>>;
    /// Overwrites the start of Params, AdamM or AdamV.
    fn write_f32(&mut self, buf: Buf, data: &[f32]) -> Result<()>;
    /// Waits for queued work and reads the first `len` statistics.
    fn read_stats(&self, len: usize) -> Result<Vec<f64>>;
}

/// Static description of a backend's problem: sizes and settings.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Modulus p.
    pub p: usize,
    /// Width M.
    pub width: usize,
    /// Tied or untied.
    pub tying: Tying,
    /// Activation.
    pub act: Activation,
    /// Loss.
    pub loss: Loss,
    /// Parameter tensor sizes: W_in, W_out[, W_in_y].
    pub sizes: Vec<usize>,
    /// Training rows and ordered pairs.
    pub train: (usize, usize),
    /// Test rows and ordered pairs (`None` for a full split).
    pub test: Option<(usize, usize)>,
}

impl Layout {
    fn total(&self) -> usize {
        self.sizes.iter().sum()
    }
    /// Rows of the largest batch (sizes Act, Z, RowLoss, RowCorrect).
    pub fn rows_max(&self) -> usize {
        self.train.0.max(self.test.map_or(0, |t| t.0))
    }
    /// Length of the split-K workspace: the largest `splits x nr x nc` of the products (>= 1).
    pub fn split_len(&self) -> usize {
        let mut calls = vec![
            self.logits_gemm(self.train.0),
            self.grad_out_gemm(),
            self.grad_h_gemm(),
        ];
        if let Some((rows, _)) = self.test {
            calls.push(self.logits_gemm(rows));
        }
        calls
            .iter()
            .map(|c| {
                let (_, s) = c.split_plan();
                if s > 1 {
                    s * c.nr * c.nc
                } else {
                    1
                }
            })
            .max()
            .unwrap_or(1)
    }
    /// The logits product for `rows` rows: Z (R x p) = A (R x M) W_out^T (M x p).
    pub fn logits_gemm(&self, rows: usize) -> GemmCall {
        let (p, m) = (self.p, self.width);
        GemmCall {
            nr: rows,
            nc: p,
            nk: m,
            a: at(Buf::Act, 0),
            sai: m,
            sak: 1,
            b: at(Buf::Params, self.sizes[0]),
            sbk: p,
            sbj: 1,
            c: at(Buf::Z, 0),
            ldc: p,
            scale_by_c: false,
            kchunk: m.max(1),
            splits: 1,
            split_stride: 0,
        }
    }
    /// dW_out^T (M x p) = A^T (M x R) G (R x p), into the W_out part of Grads.
    pub fn grad_out_gemm(&self) -> GemmCall {
        let (p, m, r) = (self.p, self.width, self.train.0);
        GemmCall {
            nr: m,
            nc: p,
            nk: r,
            a: at(Buf::Act, 0),
            sai: 1,
            sak: m,
            b: at(Buf::Z, 0),
            sbk: p,
            sbj: 1,
            c: at(Buf::Grads, self.sizes[0]),
            ldc: p,
            scale_by_c: false,
            kchunk: r.max(1),
            splits: 1,
            split_stride: 0,
        }
    }
    /// DH (R x M) <- (G (R x p) W_out (p x M)) * DH.
    pub fn grad_h_gemm(&self) -> GemmCall {
        let (p, m, r) = (self.p, self.width, self.train.0);
        GemmCall {
            nr: r,
            nc: m,
            nk: p,
            a: at(Buf::Z, 0),
            sai: p,
            sak: 1,
            b: at(Buf::Params, self.sizes[0]),
            sbk: 1,
            sbj: p,
            c: at(Buf::Dh, 0),
            ldc: m,
            scale_by_c: true,
            kchunk: p,
            splits: 1,
            split_stride: 0,
        }
    }
}

/// Launch geometry of every kernel, `([grid x, y, z], threads per block)`: one definition for
/// the device and the host emulation (feature `kernel-emu`).
pub mod geom {
    use super::{GemmCall, BLOCK, OPT_BLOCKS};

    /// Grid and block size of one launch.
    pub type Launch = ([u32; 3], u32);

    /// Blocks for `n` items at `per` per block, at least 1, capped at 2^20 (the kernels that
    /// can exceed it loop grid-stride).
    pub fn blocks(n: usize, per: usize) -> u32 {
        n.div_ceil(per).clamp(1, 1 << 20) as u32
    }
    /// `first_layer`: x covers the width, y the rows (striding by the grid beyond 65535).
    pub fn first_layer(rows: usize, width: usize) -> Launch {
        (
            [blocks(width, BLOCK), rows.clamp(1, 65_535) as u32, 1],
            BLOCK as u32,
        )
    }
    /// `gemm_f32` / `gemm_f32_wide`: one block per output tile of [`GemmCall::tile`] (x over
    /// columns, y over rows), z over the splits.
    pub fn gemm(c: &GemmCall) -> Launch {
        let t = c.tile();
        ([blocks(c.nc, t), blocks(c.nr, t), c.splits as u32], 256)
    }
    /// `sum_splits`: one thread per output.
    pub fn sum_splits(n: usize) -> Launch {
        ([blocks(n, BLOCK), 1, 1], BLOCK as u32)
    }
    /// `loss_rows`: one thread per row.
    pub fn loss_rows(rows: usize) -> Launch {
        ([blocks(rows, 128), 1, 1], 128)
    }
    /// `reduce2`: one block of 256.
    pub fn reduce2() -> Launch {
        ([1, 1, 1], BLOCK as u32)
    }
    /// `scatter_first`: x over the width, y over the input values.
    pub fn scatter_first(width: usize, p: usize) -> Launch {
        ([blocks(width, 128), p as u32, 1], 128)
    }
    /// `sgd_step` / `adamw_step`: the fixed grid of [`OPT_BLOCKS`] x 256.
    pub fn optimizer() -> Launch {
        ([OPT_BLOCKS as u32, 1, 1], BLOCK as u32)
    }
}

/// Which array of a prepared batch a kernel argument points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchArray {
    /// First operands (u32).
    X,
    /// Second operands (u32).
    Y,
    /// Labels (u32).
    Label,
    /// Row multiplicities (f32).
    Weight,
    /// s * w_r (f32).
    Scale,
}

/// One kernel argument, resolved to an address or passed as a value by the executor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg {
    /// The address of an element of a buffer.
    Ptr(At),
    /// The address of an array of a prepared batch.
    Batch(Sel, BatchArray),
    /// The address of the training batch's first-layer list `.0`: offsets (`false`) or rows
    /// (`true`).
    List(usize, bool),
    /// A null pointer.
    Null,
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
}

/// How a kernel parameter is passed: its size in bytes and whether it is a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ParamKind {
    /// Size in bytes (4 or 8).
    pub bytes: u8,
    /// A floating-point parameter (`.f32`/`.f64` in PTX).
    pub float: bool,
}

impl Arg {
    /// The parameter kind this argument needs.
    pub fn kind(&self) -> ParamKind {
        match self {
            Arg::I32(_) => ParamKind {
                bytes: 4,
                float: false,
            },
            Arg::F32(_) => ParamKind {
                bytes: 4,
                float: true,
            },
            _ => ParamKind {
                bytes: 8,
                float: false,
            },
        }
    }
}

/// One kernel launch: which kernel, its geometry and its arguments in the kernel's order.
/// Built once ([`spec`]) for the device and the host emulation alike.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchSpec {
    /// Kernel name (an `extern "C"` entry of `kernels/train_step.cu`).
    pub kernel: &'static str,
    /// Grid and threads per block.
    pub launch: geom::Launch,
    /// Arguments in order.
    pub args: Vec<Arg>,
}

impl LaunchSpec {
    /// Checks the arguments against the kernel's parameters in `params` (from [`ptx_params`]).
    pub fn check(&self, params: &std::collections::BTreeMap<String, Vec<ParamKind>>) -> Result<()> {
        let want = params
            .get(self.kernel)
            .ok_or_else(|| Error::BackendUnavailable {
                backend: "cuda",
                reason: format!("kernel {} is not in the PTX", self.kernel),
            })?;
        let got: Vec<ParamKind> = self.args.iter().map(Arg::kind).collect();
        if &got != want {
            return Err(Error::Shape {
                what: format!("arguments of kernel {}", self.kernel),
                found: format!("{got:?}"),
                expected: format!("{want:?}"),
            });
        }
        Ok(())
    }
}

/// The entry points of a PTX module and their parameter kinds, in order (`.param .u32`,
/// `.s32`, `.b32` -> 4-byte integer; `.u64`, `.s64`, `.b64` -> 8-byte integer or pointer;
/// `.f32` -> float).
pub fn ptx_params(ptx: &str) -> std::collections::BTreeMap<String, Vec<ParamKind>> {
    let mut out = std::collections::BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in ptx.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix(".visible .entry ") {
            let name = rest.split('(').next().unwrap_or("").trim().to_string();
            out.insert(name.clone(), Vec::new());
            cur = Some(name);
            continue;
        }
        if let Some(name) = &cur {
            if let Some(rest) = t.strip_prefix(".param .") {
                let ty = rest.split_whitespace().next().unwrap_or("");
                let bytes = if ty.ends_with("64") { 8 } else { 4 };
                let float = ty.starts_with('f');
                out.get_mut(name)
                    .expect("entry")
                    .push(ParamKind { bytes, float });
            } else if t.starts_with(')') || t.starts_with('{') {
                cur = None;
            }
        }
    }
    out
}

/// The launch of each kernel, argument by argument in the kernel's parameter order: the one
/// place where the Rust side matches the kernels' signatures (checked against the PTX's
/// parameters before every launch).
pub mod spec {
    use super::{geom, AdamScalars, Arg, At, BatchArray, Buf, GemmCall, LaunchSpec, Sel};

    fn at(buf: Buf, off: usize) -> Arg {
        Arg::Ptr(At { buf, off })
    }

    /// `first_layer(w_x, w_y, xs, ys, rows, width, act, a, dh)`.
    #[allow(clippy::too_many_arguments)]
    pub fn first_layer(
        w_x: At,
        w_y: At,
        sel: Sel,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> LaunchSpec {
        LaunchSpec {
            kernel: "first_layer",
            launch: geom::first_layer(rows, width),
            args: vec![
                Arg::Ptr(w_x),
                Arg::Ptr(w_y),
                Arg::Batch(sel, BatchArray::X),
                Arg::Batch(sel, BatchArray::Y),
                Arg::I32(rows as i32),
                Arg::I32(width as i32),
                Arg::I32(act),
                at(Buf::Act, 0),
                if with_dh { at(Buf::Dh, 0) } else { Arg::Null },
            ],
        }
    }

    /// `gemm_f32` / `gemm_f32_wide(nr, nc, nk, a, sai, sak, b, sbk, sbj, c, ldc, d, kchunk,
    /// split_stride)`.
    pub fn gemm(c: &GemmCall) -> LaunchSpec {
        LaunchSpec {
            kernel: c.kernel(),
            launch: geom::gemm(c),
            args: vec![
                Arg::I32(c.nr as i32),
                Arg::I32(c.nc as i32),
                Arg::I32(c.nk as i32),
                Arg::Ptr(c.a),
                Arg::I64(c.sai as i64),
                Arg::I64(c.sak as i64),
                Arg::Ptr(c.b),
                Arg::I64(c.sbk as i64),
                Arg::I64(c.sbj as i64),
                Arg::Ptr(c.c),
                Arg::I64(c.ldc as i64),
                if c.scale_by_c {
                    Arg::Ptr(c.c)
                } else {
                    Arg::Null
                },
                Arg::I32(c.kchunk as i32),
                Arg::I64(c.split_stride as i64),
            ],
        }
    }

    /// `sum_splits(ws, splits, stride, n, out)`.
    pub fn sum_splits(ws: At, splits: usize, stride: usize, n: usize, out: At) -> LaunchSpec {
        LaunchSpec {
            kernel: "sum_splits",
            launch: geom::sum_splits(n),
            args: vec![
                Arg::Ptr(ws),
                Arg::I32(splits as i32),
                Arg::I64(stride as i64),
                Arg::I64(n as i64),
                Arg::Ptr(out),
            ],
        }
    }

    /// `loss_rows(z, rows, p, labels, weight, scale, loss_kind, want_grad, row_loss,
    /// row_correct, parts, splits, stride)`.
    pub fn loss_rows(
        sel: Sel,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(At, usize, usize)>,
    ) -> LaunchSpec {
        let (pp, splits, stride) = match parts {
            Some((ws, s, st)) => (Arg::Ptr(ws), s, st),
            None => (Arg::Null, 1, 0),
        };
        LaunchSpec {
            kernel: "loss_rows",
            launch: geom::loss_rows(rows),
            args: vec![
                at(Buf::Z, 0),
                Arg::I32(rows as i32),
                Arg::I32(p as i32),
                Arg::Batch(sel, BatchArray::Label),
                Arg::Batch(sel, BatchArray::Weight),
                Arg::Batch(sel, BatchArray::Scale),
                Arg::I32(kind),
                Arg::I32(want_grad as i32),
                at(Buf::RowLoss, 0),
                at(Buf::RowCorrect, 0),
                pp,
                Arg::I32(splits as i32),
                Arg::I64(stride as i64),
            ],
        }
    }

    /// `reduce2(x, y, n, out, accumulate = 0)`.
    pub fn reduce2(x: At, y: At, n: usize, out: At) -> LaunchSpec {
        LaunchSpec {
            kernel: "reduce2",
            launch: geom::reduce2(),
            args: vec![
                Arg::Ptr(x),
                Arg::Ptr(y),
                Arg::I32(n as i32),
                Arg::Ptr(out),
                Arg::I32(0),
            ],
        }
    }

    /// `scatter_first(dh, width, offs, list, g)` with the training batch's list `list`.
    pub fn scatter_first(list: usize, width: usize, p: usize, g: At) -> LaunchSpec {
        LaunchSpec {
            kernel: "scatter_first",
            launch: geom::scatter_first(width, p),
            args: vec![
                at(Buf::Dh, 0),
                Arg::I32(width as i32),
                Arg::List(list, false),
                Arg::List(list, true),
                Arg::Ptr(g),
            ],
        }
    }

    /// `sgd_step(w, g, n, lr, wd, partial)`.
    pub fn sgd_step(n: usize, lr: f32, wd: f32) -> LaunchSpec {
        LaunchSpec {
            kernel: "sgd_step",
            launch: geom::optimizer(),
            args: vec![
                at(Buf::Params, 0),
                at(Buf::Grads, 0),
                Arg::I64(n as i64),
                Arg::F32(lr),
                Arg::F32(wd),
                at(Buf::Partial, 0),
            ],
        }
    }

    /// `adamw_step(w, g, m, v, n, decay, b1, b2, step, bc2_sqrt, eps, partial)`.
    pub fn adamw_step(n: usize, s: AdamScalars) -> LaunchSpec {
        LaunchSpec {
            kernel: "adamw_step",
            launch: geom::optimizer(),
            args: vec![
                at(Buf::Params, 0),
                at(Buf::Grads, 0),
                at(Buf::AdamM, 0),
                at(Buf::AdamV, 0),
                Arg::I64(n as i64),
                Arg::F32(s.decay),
                Arg::F32(s.b1),
                Arg::F32(s.b2),
                Arg::F32(s.step),
                Arg::F32(s.bc2_sqrt),
                Arg::F32(s.eps),
                at(Buf::Partial, 0),
            ],
        }
    }
}

/// Host copy of the optimiser's hyper-parameters and step count.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OptKind {
    Sgd {
        wd: f32,
    },
    Adamw {
        wd: f32,
        b1: f32,
        b2: f32,
        eps: f32,
        t: u64,
    },
}

fn opt_kind(opt: &Optimizer<f32>) -> OptKind {
    match opt {
        Optimizer::Sgd(s) => OptKind::Sgd { wd: s.weight_decay },
        Optimizer::Adamw(a) => OptKind::Adamw {
            wd: a.weight_decay,
            b1: a.beta1,
            b2: a.beta2,
            eps: a.eps,
            t: a.t,
        },
    }
}

/// The orchestration shared by the device and the twin: which kernels run, in which order, on
/// which buffers, and how the statistics become [`EpochStats`].
pub(crate) struct Engine<K: Kernels> {
    pub(crate) lay: Layout,
    opt: OptKind,
    pub(crate) k: K,
    /// Host copies of the batches, for [`Engine::correct_grid`].
    host_train: crate::grad::Batch<f32>,
    host_test: Option<crate::grad::Batch<f32>>,
}

/// What an executor needs to allocate and fill its buffers.
pub(crate) struct Setup<'a> {
    pub(crate) lay: &'a Layout,
    pub(crate) train: &'a KernelBatch,
    pub(crate) test: Option<&'a KernelBatch>,
    pub(crate) params: Vec<f32>,
    /// AdamW moments (concatenated), or `None` for SGD.
    pub(crate) adam: Option<(Vec<f32>, Vec<f32>)>,
}

impl<K: Kernels> Engine<K> {
    /// Prepares the batches and hands them to `make` to build the executor.
    pub(crate) fn new(
        net: Network<f32>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<f32>,
        make: impl FnOnce(&Setup) -> Result<K>,
    ) -> Result<Self> {
        if split.train.is_empty() {
            return Err(Error::EmptyPairs {
                what: "training set",
            });
        }
        if split.p != net.p {
            return Err(Error::Shape {
                what: "split".into(),
                found: format!("p = {}", split.p),
                expected: format!("p = {} (the network's)", net.p),
            });
        }
        let (p, tying) = (net.p, net.tying());
        let train = KernelBatch::new(&split.train, p, tying, loss);
        let test = (!split.full && !split.test.is_empty())
            .then(|| KernelBatch::new(&split.test, p, tying, loss));
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let lay = Layout {
            p,
            width: net.width(),
            tying,
            act,
            loss,
            sizes,
            train: (train.rows, train.n),
            test: test.as_ref().map(|t| (t.rows, t.n)),
        };
        let adam = match &opt {
            Optimizer::Adamw(a) => {
                check_moments(&lay, a)?;
                Some((a.m.concat(), a.v.concat()))
            }
            Optimizer::Sgd(_) => None,
        };
        let k = make(&Setup {
            lay: &lay,
            train: &train,
            test: test.as_ref(),
            params: net.param_slices().concat(),
            adam,
        })?;
        Ok(Engine {
            lay,
            opt: opt_kind(&opt),
            k,
            host_train: crate::grad::Batch::new(&split.train, tying),
            host_test: (!split.full && !split.test.is_empty())
                .then(|| crate::grad::Batch::new(&split.test, tying)),
        })
    }

    fn stats_at(slot: usize, field: usize) -> At {
        at(Buf::Stats, slot * SLOT + field)
    }

    /// First layer, logits and loss of a batch; loss and correct sums into stats[slot][field..].
    fn forward(&mut self, sel: Sel, want_grad: bool, slot: usize, field: usize) -> Result<()> {
        let lay = &self.lay;
        let rows = match sel {
            Sel::Train => lay.train.0,
            Sel::Test => lay.test.expect("test batch").0,
        };
        let w_x = at(Buf::Params, 0);
        let w_y = match lay.tying {
            Tying::Tied => w_x,
            Tying::Untied => at(Buf::Params, lay.sizes[0] + lay.sizes[1]),
        };
        let kind = match lay.loss {
            Loss::CeMean | Loss::CeSum => 0,
            Loss::Mse => 1,
        };
        let (p, width, act) = (lay.p, lay.width, act_code(lay.act));
        let call = lay.logits_gemm(rows);
        self.k
            .first_layer(w_x, w_y, sel, rows, width, act, want_grad)?;
        // A split logits product is summed by the loss kernel itself (one launch fewer).
        let parts = self.gemm_parts(&call)?;
        self.k.loss_rows(sel, rows, p, kind, want_grad, parts)?;
        self.k.reduce2(
            at(Buf::RowLoss, 0),
            at(Buf::RowCorrect, 0),
            rows,
            Self::stats_at(slot, field),
        )
    }

    /// One product, split along k by [`GemmCall::split_plan`] into the SplitK workspace and
    /// summed into C when that pays.
    fn run_gemm(&mut self, call: &GemmCall) -> Result<()> {
        match self.gemm_parts(call)? {
            None => Ok(()),
            Some((ws, splits, stride)) => {
                self.k
                    .sum_splits(ws, splits, stride, call.nr * call.nc, call.c)
            }
        }
    }

    /// Runs a product; unsplit it lands in C (`None`), split it leaves its partials in the
    /// SplitK workspace: `Some((workspace, splits, stride))` for the caller to sum.
    fn gemm_parts(&mut self, call: &GemmCall) -> Result<Option<(At, usize, usize)>> {
        let (kchunk, splits) = call.split_plan();
        if splits == 1 {
            self.k.gemm(call)?;
            return Ok(None);
        }
        let n = call.nr * call.nc;
        let split = GemmCall {
            c: at(Buf::SplitK, 0),
            ldc: call.nc,
            kchunk,
            splits,
            split_stride: n,
            ..*call
        };
        self.k.gemm(&split)?;
        Ok(Some((at(Buf::SplitK, 0), splits, n)))
    }

    /// The backward pass into Grads (after `forward(Train, true, ..)`).
    fn backward(&mut self) -> Result<()> {
        let (c1, c2) = (self.lay.grad_out_gemm(), self.lay.grad_h_gemm());
        self.run_gemm(&c1)?;
        self.run_gemm(&c2)?;
        let (p, width, s) = (self.lay.p, self.lay.width, self.lay.sizes.clone());
        self.k.scatter_first(0, width, p, at(Buf::Grads, 0))?;
        if self.lay.tying == Tying::Untied {
            self.k
                .scatter_first(1, width, p, at(Buf::Grads, s[0] + s[1]))?;
        }
        Ok(())
    }

    /// Forward, backward and update with learning rate `lr`; scalars into stats slot `slot`.
    pub(crate) fn queue_step(&mut self, lr: f32, slot: usize) -> Result<()> {
        self.forward(Sel::Train, true, slot, 0)?;
        self.backward()?;
        self.queue_update(lr, slot)
    }

    /// The optimiser update from the gradient in `Grads` (its kernel also sums the parameter
    /// and gradient squares of the pre-update state into stats slot `slot`).
    fn queue_update(&mut self, lr: f32, slot: usize) -> Result<()> {
        let n = self.lay.total();
        match &mut self.opt {
            OptKind::Sgd { wd } => {
                let wd = *wd;
                self.k.sgd_step(n, lr, wd)?;
            }
            OptKind::Adamw { wd, b1, b2, eps, t } => {
                // Exactly the f32 scalars of src/optim.rs.
                *t += 1;
                let ti = *t as i32;
                let s = AdamScalars {
                    decay: 1.0f32 - lr * *wd,
                    b1: *b1,
                    b2: *b2,
                    step: lr / (1.0f32 - b1.powi(ti)),
                    bc2_sqrt: (1.0f32 - b2.powi(ti)).sqrt(),
                    eps: *eps,
                };
                self.k.adamw_step(n, s)?;
            }
        }
        self.k.reduce2(
            at(Buf::Partial, 0),
            at(Buf::Partial, OPT_BLOCKS),
            OPT_BLOCKS,
            Self::stats_at(slot, 2),
        )
    }

    /// The measuring half of a step for observers ([`Backend::measure`]): forward and backward
    /// on the device, the gradient left in `Grads` for [`Engine::update`]; the norms are summed
    /// on the host from the downloaded f32 values (as the CPU backend sums them).
    pub(crate) fn measure(&mut self) -> Result<StepStats> {
        let (train, g) = self.loss_and_grad()?;
        let net = self.network()?;
        Ok(StepStats {
            train,
            grad_norm: g.norm(),
            param_norm: net.param_norm(),
        })
    }

    /// The updating half: one optimiser step from the gradient of the last `measure`.
    pub(crate) fn update(&mut self, lr: f32) -> Result<()> {
        self.k.begin()?;
        self.queue_update(lr, 0)?;
        self.k.read_stats(SLOT)?;
        Ok(())
    }

    /// The correctness grid of the current weights (evaluated on the host: only observers
    /// that record pair classes ask for it).
    pub(crate) fn correct_grid(&self, grid: &mut Vec<bool>) -> Result<()> {
        let net = self.network()?;
        crate::backend::grid_by_evaluation(
            &net,
            self.lay.act,
            self.lay.loss,
            &self.host_train,
            self.host_test.as_ref(),
            grid,
        );
        Ok(())
    }

    fn eval_of(&self, rows_n: (usize, usize), loss_sum: f64, correct: f64) -> Eval {
        Eval {
            loss: loss_sum * self.lay.loss.normalisation(rows_n.1),
            accuracy: correct / rows_n.1 as f64,
        }
    }

    fn stats_of(&self, s: &[f64]) -> EpochStats {
        EpochStats {
            test: self.lay.test.map(|t| self.eval_of(t, s[4], s[5])),
            step: StepStats {
                train: self.eval_of(self.lay.train, s[0], s[1]),
                param_norm: s[2].sqrt(),
                grad_norm: s[3].sqrt(),
            },
        }
    }

    pub(crate) fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
        self.k.begin()?;
        let mut out = Vec::with_capacity(lrs.len());
        for chunk in lrs.chunks(STATS_BATCH) {
            for (slot, &lr) in chunk.iter().enumerate() {
                if self.lay.test.is_some() {
                    self.forward(Sel::Test, false, slot, 4)?;
                }
                self.queue_step(lr, slot)?;
            }
            let s = self.k.read_stats(SLOT * chunk.len())?;
            out.extend(s.chunks(SLOT).map(|x| self.stats_of(x)));
        }
        Ok(out)
    }

    pub(crate) fn step(&mut self, lr: f32) -> Result<StepStats> {
        self.k.begin()?;
        self.queue_step(lr, 0)?;
        let s = self.k.read_stats(SLOT)?;
        Ok(self.stats_of(&s).step)
    }

    pub(crate) fn eval(&mut self, sel: Sel) -> Result<Option<Eval>> {
        self.k.begin()?;
        let rn = match sel {
            Sel::Train => self.lay.train,
            Sel::Test => match self.lay.test {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        self.forward(sel, false, 0, 4)?;
        let s = self.k.read_stats(SLOT)?;
        Ok(Some(self.eval_of(rn, s[4], s[5])))
    }

    pub(crate) fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
        self.k.begin()?;
        self.forward(Sel::Train, true, 0, 0)?;
        self.backward()?;
        let s = self.k.read_stats(SLOT)?;
        let g = self.unflatten(&self.k.read_f32(Buf::Grads, self.lay.total())?)?;
        Ok((
            self.eval_of(self.lay.train, s[0], s[1]),
            Grads {
                w_in: g.w_in,
                w_out: g.w_out,
                w_in_y: g.w_in_y,
            },
        ))
    }

    fn unflatten(&self, v: &[f32]) -> Result<Network<f32>> {
        let (p, m) = (self.lay.p, self.lay.width);
        let (a, rest) = v.split_at(self.lay.sizes[0]);
        let (b, c) = rest.split_at(self.lay.sizes[1]);
        Network::new(
            DMatrix::from_column_slice(m, p, a),
            DMatrix::from_column_slice(p, m, b),
            (!c.is_empty()).then(|| DMatrix::from_column_slice(m, p, c)),
        )
    }

    fn split_tensors(&self, v: Vec<f32>) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut i = 0;
        for &n in &self.lay.sizes {
            out.push(v[i..i + n].to_vec());
            i += n;
        }
        out
    }

    pub(crate) fn network(&self) -> Result<Network<f32>> {
        self.k.begin()?;
        self.unflatten(&self.k.read_f32(Buf::Params, self.lay.total())?)
    }

    pub(crate) fn optimizer(&self) -> Result<Optimizer<f32>> {
        self.k.begin()?;
        Ok(match self.opt {
            OptKind::Sgd { wd } => Optimizer::Sgd(Sgd { weight_decay: wd }),
            OptKind::Adamw { wd, b1, b2, eps, t } => {
                let n = self.lay.total();
                Optimizer::Adamw(AdamW {
                    weight_decay: wd,
                    beta1: b1,
                    beta2: b2,
                    eps,
                    t,
                    m: self.split_tensors(self.k.read_f32(Buf::AdamM, n)?),
                    v: self.split_tensors(self.k.read_f32(Buf::AdamV, n)?),
                })
            }
        })
    }

    pub(crate) fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) -> Result<()> {
        self.k.begin()?;
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        if sizes != self.lay.sizes || net.p != self.lay.p {
            return Err(Error::Shape {
                what: "network given to the CUDA backend".into(),
                found: format!("p = {}, tensor sizes {sizes:?}", net.p),
                expected: format!("p = {}, tensor sizes {:?}", self.lay.p, self.lay.sizes),
            });
        }
        let was_adam = matches!(self.opt, OptKind::Adamw { .. });
        if was_adam != matches!(opt, Optimizer::Adamw(_)) {
            return Err(Error::Shape {
                what: "optimiser given to the CUDA backend".into(),
                found: if was_adam { "sgd" } else { "adamw" }.into(),
                expected: if was_adam { "adamw" } else { "sgd" }.into(),
            });
        }
        if let Optimizer::Adamw(a) = &opt {
            check_moments(&self.lay, a)?;
        }
        self.k
            .write_f32(Buf::Params, &net.param_slices().concat())?;
        if let Optimizer::Adamw(a) = &opt {
            self.k.write_f32(Buf::AdamM, &a.m.concat())?;
            self.k.write_f32(Buf::AdamV, &a.v.concat())?;
        }
        self.opt = opt_kind(&opt);
        Ok(())
    }
}

fn check_moments(lay: &Layout, a: &AdamW<f32>) -> Result<()> {
    let ms: Vec<usize> = a.m.iter().map(|v| v.len()).collect();
    let vs: Vec<usize> = a.v.iter().map(|v| v.len()).collect();
    if ms != lay.sizes || vs != lay.sizes {
        return Err(Error::Shape {
            what: "AdamW moments".into(),
            found: format!("{ms:?} and {vs:?}"),
            expected: format!("{:?}", lay.sizes),
        });
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn no_feature() -> Error {
    Error::BackendUnavailable {
        backend: "cuda",
        reason: "this build has no CUDA backend (rebuild with --features cuda)".into(),
    }
}

/// Checks that the CUDA backend can run here: the feature is compiled in, the driver loads and
/// reports at least one device. Returns [`Error::BackendUnavailable`] saying which is missing.
pub fn cuda_available() -> Result<()> {
    #[cfg(not(feature = "cuda"))]
    {
        Err(no_feature())
    }
    #[cfg(feature = "cuda")]
    {
        device::init_device().map(|_| ())
    }
}

/// The CUDA backend: state resident on device 0, f32 only.
pub struct CudaBackend {
    #[cfg(feature = "cuda")]
    e: Engine<device::DeviceKernels>,
    #[cfg(not(feature = "cuda"))]
    never: std::convert::Infallible,
}

/// Forwards to the engine, or proves the stub uninhabited.
macro_rules! with_engine {
    ($self:ident, $e:ident => $body:expr) => {{
        #[cfg(feature = "cuda")]
        {
            let $e = &$self.e;
            $body
        }
        #[cfg(not(feature = "cuda"))]
        {
            match $self.never {}
        }
    }};
    (mut $self:ident, $e:ident => $body:expr) => {{
        #[cfg(feature = "cuda")]
        {
            let $e = &mut $self.e;
            $body
        }
        #[cfg(not(feature = "cuda"))]
        {
            match $self.never {}
        }
    }};
}

// Without the feature the bodies never run (the type is uninhabited), so arguments go unused.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
impl CudaBackend {
    /// Uploads the split's prepared pairs (as [`Batch::new`] prepares them), the weights and
    /// the optimiser state to device 0.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] without the `cuda` feature, without a driver or device, or
    /// when the device cannot take the buffers or the kernels; [`Error::EmptyPairs`] for an
    /// empty training set; [`Error::Shape`] when the split or the moments do not fit the network.
    pub fn new(
        net: Network<f32>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<f32>,
    ) -> Result<Self> {
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (net, act, loss, split, opt);
            Err(no_feature())
        }
        #[cfg(feature = "cuda")]
        {
            let dev = device::init_device()?;
            Ok(CudaBackend {
                e: Engine::new(net, act, loss, split, opt, |s| {
                    device::DeviceKernels::new(dev, s)
                })?,
            })
        }
    }

    /// Runs one epoch per entry of `lrs` (test evaluation when the split is not full, then the
    /// step with that learning rate) without a host round trip in between; the per-epoch
    /// scalars come back together, one copy per [`STATS_BATCH`] epochs.
    pub fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
        with_engine!(mut self, e => e.run_epochs(lrs))
    }

    /// Loss, accuracy and the exact gradient at the current weights, without an update.
    pub fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
        with_engine!(mut self, e => e.loss_and_grad())
    }

    /// The device's name as the driver reports it.
    pub fn device_name(&self) -> String {
        with_engine!(self, e => e.k.device_name())
    }

    /// Waits until all queued work is done (for timing).
    pub fn synchronize(&self) -> Result<()> {
        with_engine!(self, e => e.k.synchronize())
    }

    /// Queues one step with learning rate `lr` without waiting for it or fetching its scalars
    /// (they stay in the statistics buffer, slot 0). For timing the step alone.
    pub fn enqueue_step(&mut self, lr: f32) -> Result<()> {
        with_engine!(mut self, e => { e.k.begin()?; e.queue_step(lr, 0) })
    }
}

/// # Panics
/// The trait's methods return no `Result`: a CUDA failure after construction (a lost device, a
/// kernel fault) panics with the driver's error. [`CudaBackend::run_epochs`] and
/// [`CudaBackend::loss_and_grad`] return it as an [`Error`] instead.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
impl Backend<f32> for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn eval_test(&mut self) -> Option<Eval> {
        with_engine!(mut self, e => e.eval(Sel::Test).expect("cuda eval_test"))
    }
    fn eval_train(&mut self) -> Eval {
        with_engine!(mut self, e => e.eval(Sel::Train).expect("cuda eval_train").expect("train"))
    }
    fn measure(&mut self) -> StepStats {
        with_engine!(mut self, e => e.measure().expect("cuda measure"))
    }
    fn update(&mut self, lr: f32) {
        with_engine!(mut self, e => e.update(lr).expect("cuda update"))
    }
    fn step(&mut self, lr: f32) -> StepStats {
        with_engine!(mut self, e => e.step(lr).expect("cuda step"))
    }
    fn correct_grid(&self, grid: &mut Vec<bool>) {
        with_engine!(self, e => e.correct_grid(grid).expect("cuda correct_grid"))
    }
    fn network(&self) -> Network<f32> {
        with_engine!(self, e => e.network().expect("cuda network"))
    }
    fn optimizer(&self) -> Optimizer<f32> {
        with_engine!(self, e => e.optimizer().expect("cuda optimizer"))
    }
    fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) {
        with_engine!(mut self, e => e.set_state(net, opt).expect("cuda set_state"))
    }
}
