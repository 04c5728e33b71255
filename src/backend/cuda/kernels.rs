//! The kernels of `kernels/train_step.cu` as a trait, implemented by the device and by the
//! host twin, and the scalars of an AdamW update.

use crate::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};
use crate::backend::cuda::gemm::GemmCall;
use crate::backend::StepStats;
use crate::error::Result;
use crate::numerics::grad::Eval;
/// The PTX of `kernels/train_step.cu` (built by `kernels/build_ptx.sh`, hash-checked in CI).
pub const PTX: &str = include_str!("../../../kernels/train_step.ptx");

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

/// The measurements of one epoch taken by [`CudaBackend::run_epochs`](super::CudaBackend::run_epochs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Test loss and accuracy before the update (`None` for a full split).
    pub test: Option<Eval>,
    /// Training measurements before the update.
    pub step: StepStats,
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
        w_x: BufferOffset,
        w_y: BufferOffset,
        sel: PairSet,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()>;
    /// `gemm_f32`.
    fn gemm(&mut self, call: &GemmCall) -> Result<()>;
    /// `sum_splits`: `out[e] = sum over s < splits (in order) of ws[s stride + e]`, e < n.
    fn sum_splits(
        &mut self,
        ws: BufferOffset,
        splits: usize,
        stride: usize,
        n: usize,
        out: BufferOffset,
    ) -> Result<()>;
    /// `loss_rows` on Z, RowLoss, RowCorrect.
    /// With `parts = Some((ws, splits, stride))` the logits are first summed from the split-K
    /// partials (as `sum_splits` would) into Z.
    fn loss_rows(
        &mut self,
        sel: PairSet,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(BufferOffset, usize, usize)>,
    ) -> Result<()>;
    /// `reduce2`: `out[0] = sum x[..n]`, `out[1] = sum y[..n]`.
    fn reduce2(
        &mut self,
        x: BufferOffset,
        y: BufferOffset,
        n: usize,
        out: BufferOffset,
    ) -> Result<()>;
    /// `scatter_first` with the training batch's list `list` from DH into `g`.
    fn scatter_first(&mut self, list: usize, width: usize, p: usize, g: BufferOffset)
        -> Result<()>;
    /// `sgd_step` over Params/Grads (n entries), partial sums into Partial.
    fn sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()>;
    /// `adamw_step` over Params/Grads/AdamM/AdamV, partial sums into Partial.
    fn adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()>;
    /// Reads `len` f32 of Params, Grads, AdamM or AdamV (after all queued work).
    fn read_f32(&self, buf: KernelBuffer, len: usize) -> Result<Vec<f32>>;
    /// Overwrites the start of Params, AdamM or AdamV.
    fn write_f32(&mut self, buf: KernelBuffer, data: &[f32]) -> Result<()>;
    /// Waits for queued work and reads the first `len` statistics.
    fn read_stats(&self, len: usize) -> Result<Vec<f64>>;
}
