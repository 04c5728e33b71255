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
//! gemm_f32       Z (R x p) = A (R x M) W_out^T (M x p)                        logits
//! loss_rows      per row: loss l_r, correct_r (argmax, ties -> smallest index),
//!                Z <- G = s w_r dl/dz  (s = 1/n or 1, w_r the row's multiplicity)
//! reduce2        sum_r w_r l_r, sum_r w_r correct_r (f64)  -> stats
//! gemm_f32       dW_out^T (M x p) = A^T (M x R) G (R x p)
//! gemm_f32       DH <- (G (R x p) W_out (p x M)) * DH      (dL/dh)
//! scatter_first  dW_in[m, v] = sum over rows r with x_r = v, and rows with y_r = v, of DH[r, m]
//! sgd_step | adamw_step   the update of src/optim.rs over all parameters at once, also
//!                summing ||w||^2 (before the update) and ||g||^2 (f64)
//! reduce2        -> stats
//! ```
//! Every reduction has a fixed order (no atomics), so the backend is deterministic on a given
//! device. Per-step scalars go into a device buffer of f64 and come back in batches
//! ([`CudaBackend::run_epochs`]); the [`Backend`] methods fetch them after each call. Weights
//! and optimiser state come back only through [`Backend::network`] / [`Backend::optimizer`].
//!
//! # Agreement with the CPU backend
//! The elementwise parts (first layer, activations, loss, optimisers) perform the CPU's f32
//! operations in the CPU's order, with `exp`/`log` of at most 1 ulp error (checked by
//! `kernels/build_ptx.sh`). The three matrix products sum in another order than the CPU's
//! `matrixmultiply`, so losses and gradients agree to f32 rounding, not bit for bit; the
//! tolerances are stated in `tests/cuda_parity.rs`.

use crate::error::{Error, Result};
#[cfg(feature = "cuda")]
use crate::grad::Batch;
use crate::grad::{Eval, Grads};
use crate::loss::Loss;
use crate::model::{Activation, Network};
use crate::optim::Optimizer;
use crate::task::Split;

use super::{Backend, StepStats};

/// The PTX of `kernels/train_step.cu` (built by `kernels/build_ptx.sh`, hash-checked in CI).
pub const PTX: &str = include_str!("../../kernels/train_step.ptx");

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
/// increasing row order (the CPU's accumulation order): CSR offsets (p + 1) and the row list.
///
/// `operands` lists, per operand slot feeding this column set, the operand of every row: for the
/// tied model `[x, y]` (a row with x = y = v appears twice), for one untied matrix `[x]` or `[y]`.
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
        imp::init_device().map(|_| ())
    }
}

/// The CUDA backend: state resident on device 0, f32 only.
pub struct CudaBackend {
    #[cfg(feature = "cuda")]
    inner: imp::Inner,
    #[cfg(not(feature = "cuda"))]
    never: std::convert::Infallible,
}

impl CudaBackend {
    /// Uploads the split's prepared pairs (as [`crate::grad::Batch::new`] prepares them), the
    /// weights and the optimiser state to device 0.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] without the `cuda` feature, without a driver or device, or
    /// when the device cannot hold the buffers; [`Error::EmptyPairs`] for an empty training set.
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
            Ok(CudaBackend {
                inner: imp::Inner::new(net, act, loss, split, opt)?,
            })
        }
    }

    /// Runs one epoch per entry of `lrs` (test evaluation when the split is not full, then the
    /// step with that learning rate), with no host round trip in between; the per-epoch scalars
    /// come back together at the end.
    pub fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
        #[cfg(not(feature = "cuda"))]
        {
            let _ = lrs;
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.run_epochs(lrs)
        }
    }

    /// Loss, accuracy and the exact gradient at the current weights, without an update.
    pub fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.loss_and_grad()
        }
    }

    /// The device's name as the driver reports it.
    pub fn device_name(&self) -> String {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.device_name()
        }
    }

    /// Waits until all queued work is done (for timing).
    pub fn synchronize(&self) -> Result<()> {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.synchronize()
        }
    }

    /// Queues one step with learning rate `lr` without waiting for it or fetching its scalars
    /// (they land in the device's stats buffer, slot 0). For benchmarks of the step alone.
    pub fn enqueue_step(&mut self, lr: f32) -> Result<()> {
        #[cfg(not(feature = "cuda"))]
        {
            let _ = lr;
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.enqueue_step(lr, 0)
        }
    }
}

/// # Panics
/// The trait's methods return no `Result`; a CUDA failure after construction (a lost device, a
/// kernel fault) panics with the driver's error. Use [`CudaBackend::run_epochs`] to get it as an
/// [`Error`] instead.
impl Backend<f32> for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn eval_test(&mut self) -> Option<Eval> {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.eval(true).expect("cuda eval_test")
        }
    }

    fn eval_train(&mut self) -> Eval {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner
                .eval(false)
                .expect("cuda eval_train")
                .expect("training set present")
        }
    }

    fn step(&mut self, lr: f32) -> StepStats {
        #[cfg(not(feature = "cuda"))]
        {
            let _ = lr;
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.step(lr).expect("cuda step")
        }
    }

    fn network(&self) -> Network<f32> {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.network().expect("cuda network")
        }
    }

    fn optimizer(&self) -> Optimizer<f32> {
        #[cfg(not(feature = "cuda"))]
        {
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.optimizer().expect("cuda optimizer")
        }
    }

    fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) {
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (net, opt);
            match self.never {}
        }
        #[cfg(feature = "cuda")]
        {
            self.inner.set_state(net, opt).expect("cuda set_state")
        }
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use super::*;
    use crate::model::Tying;
    use crate::optim::{AdamW, Sgd};
    use cust::context::CurrentContext;
    use cust::prelude::*;
    use nalgebra::DMatrix;

    /// Blocks of the optimiser kernels (fixed: the order of the norm sums must not depend on
    /// the device). Must equal OPT_BLOCKS in kernels/train_step.cu.
    const OPT_BLOCKS: u32 = 256;
    /// f64 slots per epoch in the stats buffer: train loss sum, train correct, ||w||^2,
    /// ||g||^2, test loss sum, test correct, (2 spare).
    const SLOT: usize = 8;
    /// Epochs per stats batch.
    const BATCH: usize = 1024;

    fn cuda_err(what: &str, e: cust::error::CudaError) -> Error {
        let reason = match e {
            cust::error::CudaError::NoDevice => "no CUDA device (the driver reports none)".into(),
            cust::error::CudaError::InvalidPtx | cust::error::CudaError::NoBinaryForGpu => format!(
                "{what}: the driver cannot JIT-compile the kernels (PTX ISA 7.0 for sm_80 or \
                 newer; is the driver older than CUDA 11.0 or the GPU older than sm_80?)"
            ),
            other => format!("{what}: {other:?}"),
        };
        Error::BackendUnavailable {
            backend: "cuda",
            reason,
        }
    }

    /// Initialises the driver API and checks for a device; returns device 0.
    pub(super) fn init_device() -> Result<Device> {
        cust::init(CudaFlags::empty()).map_err(|e| cuda_err("initialising the driver", e))?;
        let n = Device::num_devices().map_err(|e| cuda_err("counting devices", e))?;
        if n == 0 {
            return Err(cuda_err("counting devices", cust::error::CudaError::NoDevice));
        }
        Device::get_device(0).map_err(|e| cuda_err("opening device 0", e))
    }

    /// A batch resident on the device.
    struct DevBatch {
        rows: usize,
        n: usize,
        x: DeviceBuffer<u32>,
        y: DeviceBuffer<u32>,
        label: DeviceBuffer<u32>,
        weight: DeviceBuffer<f32>,
        /// s * w_r in f32, the factor of dl/dz (as the CPU computes it).
        scale: DeviceBuffer<f32>,
        /// First-layer gradient lists: (offsets, rows) into W_in, and into W_in_y (untied).
        lists: Vec<(DeviceBuffer<i32>, DeviceBuffer<i32>)>,
    }

    impl DevBatch {
        fn new(b: &Batch<f32>, loss: Loss, p: usize, tying: Tying, with_lists: bool) -> Result<Self> {
            let e = |e| cuda_err("uploading the pairs", e);
            let s = loss.normalisation(b.n) as f32;
            let scale: Vec<f32> = b.weight.iter().map(|&w| s * w).collect();
            let mut lists = Vec::new();
            if with_lists {
                let sets: Vec<Vec<&[u32]>> = match tying {
                    Tying::Tied => vec![vec![&b.x[..], &b.y[..]]],
                    Tying::Untied => vec![vec![&b.x[..]], vec![&b.y[..]]],
                };
                for ops in sets {
                    let (offs, list) = first_layer_lists(p, &ops);
                    // A zero-length device buffer is not allowed: keep one dummy entry.
                    let list = if list.is_empty() { vec![0] } else { list };
                    lists.push((
                        DeviceBuffer::from_slice(&offs).map_err(e)?,
                        DeviceBuffer::from_slice(&list).map_err(e)?,
                    ));
                }
            }
            Ok(DevBatch {
                rows: b.rows(),
                n: b.n,
                x: DeviceBuffer::from_slice(&b.x).map_err(e)?,
                y: DeviceBuffer::from_slice(&b.y).map_err(e)?,
                label: DeviceBuffer::from_slice(&b.label).map_err(e)?,
                weight: DeviceBuffer::from_slice(&b.weight).map_err(e)?,
                scale: DeviceBuffer::from_slice(&scale).map_err(e)?,
                lists,
            })
        }
    }

    /// Host copy of the optimiser's hyper-parameters and step count.
    #[derive(Clone, Copy)]
    enum OptKind {
        Sgd { wd: f32 },
        Adamw { wd: f32, b1: f32, b2: f32, eps: f32, t: u64 },
    }

    pub(super) struct Inner {
        p: usize,
        width: usize,
        tying: Tying,
        act: Activation,
        loss: Loss,
        /// Tensor sizes in the order W_in, W_out[, W_in_y].
        sizes: Vec<usize>,
        opt: OptKind,
        params: DeviceBuffer<f32>,
        grads: DeviceBuffer<f32>,
        adam_m: DeviceBuffer<f32>,
        adam_v: DeviceBuffer<f32>,
        train: DevBatch,
        test: Option<DevBatch>,
        /// sigma(h) (rows_max x M), sigma'(h) then dL/dh (train rows x M), logits then G
        /// (rows_max x p), per-row loss and correct (f64).
        a: DeviceBuffer<f32>,
        dh: DeviceBuffer<f32>,
        z: DeviceBuffer<f32>,
        row_loss: DeviceBuffer<f64>,
        row_correct: DeviceBuffer<f64>,
        partial: DeviceBuffer<f64>,
        stats: DeviceBuffer<f64>,
        stream: Stream,
        module: Module,
        device: Device,
        // Dropped last (fields drop in declaration order): the buffers need the context.
        ctx: Context,
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            // The buffers are freed in this context, whatever thread drops the backend.
            let _ = CurrentContext::set_current(&self.ctx);
            let _ = self.stream.synchronize();
        }
    }

    fn opt_kind(opt: &Optimizer<f32>) -> OptKind {
        match opt {
            Optimizer::Sgd(s) => OptKind::Sgd {
                wd: s.weight_decay,
            },
            Optimizer::Adamw(a) => OptKind::Adamw {
                wd: a.weight_decay,
                b1: a.beta1,
                b2: a.beta2,
                eps: a.eps,
                t: a.t,
            },
        }
    }

    fn concat(net: &Network<f32>) -> Vec<f32> {
        net.param_slices().concat()
    }

    fn blocks(n: usize, per: usize) -> u32 {
        n.div_ceil(per).clamp(1, 1 << 20) as u32
    }

    impl Inner {
        pub(super) fn new(
            net: Network<f32>,
            act: Activation,
            loss: Loss,
            split: &Split,
            opt: Optimizer<f32>,
        ) -> Result<Self> {
            if split.train.is_empty() {
                return Err(Error::EmptyPairs {
                    what: "training set",
                });
            }
            let device = init_device()?;
            let ctx = Context::new(device).map_err(|e| cuda_err("creating a context", e))?;
            CurrentContext::set_current(&ctx).map_err(|e| cuda_err("creating a context", e))?;
            let module =
                Module::from_ptx(PTX, &[]).map_err(|e| cuda_err("loading the kernels' PTX", e))?;
            let stream = Stream::new(StreamFlags::NON_BLOCKING, None)
                .map_err(|e| cuda_err("creating a stream", e))?;
            let (p, width, tying) = (net.p, net.width(), net.tying());
            let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
            let total: usize = sizes.iter().sum();
            let alloc = |e| cuda_err("allocating device memory", e);
            let train_b = Batch::<f32>::new(&split.train, tying);
            let train = DevBatch::new(&train_b, loss, p, tying, true)?;
            let test = if split.full {
                None
            } else {
                let b = Batch::<f32>::new(&split.test, tying);
                (b.rows() > 0)
                    .then(|| DevBatch::new(&b, loss, p, tying, false))
                    .transpose()?
            };
            let rows_max = train.rows.max(test.as_ref().map_or(0, |t| t.rows));
            let adam_len = if matches!(opt, Optimizer::Adamw(_)) { total } else { 1 };
            let mut inner = Inner {
                p,
                width,
                tying,
                act,
                loss,
                sizes,
                opt: opt_kind(&opt),
                params: DeviceBuffer::from_slice(&concat(&net)).map_err(alloc)?,
                grads: DeviceBuffer::zeroed(total).map_err(alloc)?,
                adam_m: DeviceBuffer::zeroed(adam_len).map_err(alloc)?,
                adam_v: DeviceBuffer::zeroed(adam_len).map_err(alloc)?,
                a: DeviceBuffer::zeroed(rows_max * width).map_err(alloc)?,
                dh: DeviceBuffer::zeroed(train.rows * width).map_err(alloc)?,
                z: DeviceBuffer::zeroed(rows_max * p).map_err(alloc)?,
                row_loss: DeviceBuffer::zeroed(rows_max).map_err(alloc)?,
                row_correct: DeviceBuffer::zeroed(rows_max).map_err(alloc)?,
                partial: DeviceBuffer::zeroed(2 * OPT_BLOCKS as usize).map_err(alloc)?,
                stats: DeviceBuffer::zeroed(SLOT * BATCH).map_err(alloc)?,
                train,
                test,
                stream,
                module,
                device,
                ctx,
            };
            inner.upload_opt(&opt)?;
            Ok(inner)
        }

        fn current(&self) -> Result<()> {
            CurrentContext::set_current(&self.ctx).map_err(|e| cuda_err("selecting the context", e))
        }

        fn upload_opt(&mut self, opt: &Optimizer<f32>) -> Result<()> {
            if let Optimizer::Adamw(a) = opt {
                let e = |e| cuda_err("uploading the optimiser state", e);
                self.adam_m.copy_from(&a.m.concat()[..]).map_err(e)?;
                self.adam_v.copy_from(&a.v.concat()[..]).map_err(e)?;
            }
            Ok(())
        }

        pub(super) fn device_name(&self) -> String {
            self.device.name().unwrap_or_else(|e| format!("unknown ({e:?})"))
        }

        pub(super) fn synchronize(&self) -> Result<()> {
            self.stream.synchronize().map_err(|e| cuda_err("running the kernels", e))
        }

        fn stats_ptr(&self, slot: usize, field: usize) -> DevicePointer<f64> {
            // In bounds: slot < BATCH and field < SLOT.
            debug_assert!(slot < BATCH && field < SLOT);
            self.stats.as_device_ptr().wrapping_add(slot * SLOT + field)
        }

        /// Queues first layer + logits + loss for `batch` (train or test) with or without the
        /// gradient of the logits; the loss and correct sums land at `stats[slot][field..+2]`.
        fn enqueue_forward(&self, test: bool, want_grad: bool, slot: usize, field: usize) -> Result<()> {
            let b = if test { self.test.as_ref().expect("test batch") } else { &self.train };
            let (p, m) = (self.p as i32, self.width as i32);
            let rows = b.rows as i32;
            let w_in = self.params.as_device_ptr();
            let w_out = w_in.wrapping_add(self.sizes[0]);
            let w_y = match self.tying {
                Tying::Tied => w_in,
                Tying::Untied => w_out.wrapping_add(self.sizes[1]),
            };
            let dh = if want_grad { self.dh.as_device_ptr() } else { DevicePointer::null() };
            let stream = &self.stream;
            let module = &self.module;
            let e = |e| cuda_err("launching a kernel", e);
            unsafe {
                let f = module.get_function("first_layer").map_err(e)?;
                launch!(f<<<blocks(b.rows * self.width, 256), 256, 0, stream>>>(
                    w_in, w_y, b.x.as_device_ptr(), b.y.as_device_ptr(), rows, m,
                    act_code(self.act), self.a.as_device_ptr(), dh
                ))
                .map_err(e)?;
                // Z (R x p) = A (R x M) . W_out^T (M x p)
                self.gemm(
                    rows, p, m,
                    self.a.as_device_ptr(), m as i64, 1,
                    w_out, p as i64, 1,
                    self.z.as_device_ptr(), p as i64, DevicePointer::null(),
                )?;
                let f = module.get_function("loss_rows").map_err(e)?;
                let kind = match self.loss {
                    Loss::CeMean | Loss::CeSum => 0i32,
                    Loss::Mse => 1i32,
                };
                launch!(f<<<blocks(b.rows, 128), 128, 0, stream>>>(
                    self.z.as_device_ptr(), rows, p, b.label.as_device_ptr(),
                    b.weight.as_device_ptr(), b.scale.as_device_ptr(), kind, want_grad as i32,
                    self.row_loss.as_device_ptr(), self.row_correct.as_device_ptr()
                ))
                .map_err(e)?;
                let f = module.get_function("reduce2").map_err(e)?;
                launch!(f<<<1, 256, 0, stream>>>(
                    self.row_loss.as_device_ptr(), self.row_correct.as_device_ptr(), rows,
                    self.stats_ptr(slot, field), 0i32
                ))
                .map_err(e)?;
            }
            Ok(())
        }

        #[allow(clippy::too_many_arguments)]
        unsafe fn gemm(
            &self,
            nr: i32,
            nc: i32,
            nk: i32,
            a: DevicePointer<f32>,
            sai: i64,
            sak: i64,
            b: DevicePointer<f32>,
            sbk: i64,
            sbj: i64,
            c: DevicePointer<f32>,
            ldc: i64,
            d: DevicePointer<f32>,
        ) -> Result<()> {
            let e = |e| cuda_err("launching a kernel", e);
            let f = self.module.get_function("gemm_f32").map_err(e)?;
            let stream = &self.stream;
            let grid = ((nc as u32).div_ceil(64), (nr as u32).div_ceil(64));
            launch!(f<<<grid, 256, 0, stream>>>(nr, nc, nk, a, sai, sak, b, sbk, sbj, c, ldc, d))
                .map_err(e)
        }

        /// Queues the backward pass into `grads` (after `enqueue_forward(false, true, ..)`).
        fn enqueue_backward(&self) -> Result<()> {
            let (p, m) = (self.p as i32, self.width as i32);
            let rows = self.train.rows as i32;
            let w_out = self.params.as_device_ptr().wrapping_add(self.sizes[0]);
            let g_in = self.grads.as_device_ptr();
            let g_out = g_in.wrapping_add(self.sizes[0]);
            let e = |e| cuda_err("launching a kernel", e);
            unsafe {
                // dW_out^T (M x p) = A^T (M x R) . G (R x p)
                self.gemm(
                    m, p, rows,
                    self.a.as_device_ptr(), 1, m as i64,
                    self.z.as_device_ptr(), p as i64, 1,
                    g_out, p as i64, DevicePointer::null(),
                )?;
                // DH (R x M) <- (G (R x p) . W_out (p x M)) * DH
                self.gemm(
                    rows, m, p,
                    self.z.as_device_ptr(), p as i64, 1,
                    w_out, 1, p as i64,
                    self.dh.as_device_ptr(), m as i64, self.dh.as_device_ptr(),
                )?;
                let f = self.module.get_function("scatter_first").map_err(e)?;
                let stream = &self.stream;
                let targets = match self.tying {
                    Tying::Tied => vec![g_in],
                    Tying::Untied => vec![g_in, g_out.wrapping_add(self.sizes[1])],
                };
                for ((offs, list), g) in self.train.lists.iter().zip(targets) {
                    launch!(f<<<((self.width as u32).div_ceil(128), self.p as u32), 128, 0, stream>>>(
                        self.dh.as_device_ptr(), m, offs.as_device_ptr(), list.as_device_ptr(), g
                    ))
                    .map_err(e)?;
                }
            }
            Ok(())
        }

        /// Queues forward, backward and the update; scalars into stats slot `slot`.
        pub(super) fn enqueue_step(&mut self, lr: f32, slot: usize) -> Result<()> {
            self.current()?;
            self.enqueue_forward(false, true, slot, 0)?;
            self.enqueue_backward()?;
            let n: i64 = self.sizes.iter().sum::<usize>() as i64;
            let e = |e| cuda_err("launching a kernel", e);
            let stream = &self.stream;
            let partial = self.partial.as_device_ptr();
            unsafe {
                match &mut self.opt {
                    OptKind::Sgd { wd } => {
                        let f = self.module.get_function("sgd_step").map_err(e)?;
                        launch!(f<<<OPT_BLOCKS, 256, 0, stream>>>(
                            self.params.as_device_ptr(), self.grads.as_device_ptr(), n, lr, *wd,
                            partial
                        ))
                        .map_err(e)?;
                    }
                    OptKind::Adamw { wd, b1, b2, eps, t } => {
                        // The scalars exactly as src/optim.rs computes them in f32.
                        *t += 1;
                        let ti = *t as i32;
                        let bc1 = 1.0f32 - b1.powi(ti);
                        let bc2_sqrt = (1.0f32 - b2.powi(ti)).sqrt();
                        let step = lr / bc1;
                        let decay = 1.0f32 - lr * *wd;
                        let f = self.module.get_function("adamw_step").map_err(e)?;
                        launch!(f<<<OPT_BLOCKS, 256, 0, stream>>>(
                            self.params.as_device_ptr(), self.grads.as_device_ptr(),
                            self.adam_m.as_device_ptr(), self.adam_v.as_device_ptr(), n, decay,
                            *b1, *b2, step, bc2_sqrt, *eps, partial
                        ))
                        .map_err(e)?;
                    }
                }
                let f = self.module.get_function("reduce2").map_err(e)?;
                launch!(f<<<1, 256, 0, stream>>>(
                    partial, partial.wrapping_add(OPT_BLOCKS as usize), OPT_BLOCKS as i32,
                    self.stats_ptr(slot, 2), 0i32
                ))
                .map_err(e)?;
            }
            Ok(())
        }

        fn fetch_stats(&self, slots: usize) -> Result<Vec<f64>> {
            self.synchronize()?;
            let mut host = vec![0.0f64; SLOT * BATCH];
            self.stats
                .copy_to(&mut host[..])
                .map_err(|e| cuda_err("copying the step statistics", e))?;
            host.truncate(SLOT * slots);
            Ok(host)
        }

        fn eval_of(&self, b: &DevBatch, loss_sum: f64, correct: f64) -> Eval {
            Eval {
                loss: loss_sum * self.loss.normalisation(b.n),
                accuracy: correct / b.n as f64,
            }
        }

        fn stats_of(&self, s: &[f64]) -> EpochStats {
            EpochStats {
                test: self.test.as_ref().map(|t| self.eval_of(t, s[4], s[5])),
                step: StepStats {
                    train: self.eval_of(&self.train, s[0], s[1]),
                    param_norm: s[2].sqrt(),
                    grad_norm: s[3].sqrt(),
                },
            }
        }

        pub(super) fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
            self.current()?;
            let mut out = Vec::with_capacity(lrs.len());
            for chunk in lrs.chunks(BATCH) {
                for (k, &lr) in chunk.iter().enumerate() {
                    if self.test.is_some() {
                        self.enqueue_forward(true, false, k, 4)?;
                    }
                    self.enqueue_step(lr, k)?;
                }
                let s = self.fetch_stats(chunk.len())?;
                out.extend(s.chunks(SLOT).map(|x| self.stats_of(x)));
            }
            Ok(out)
        }

        pub(super) fn step(&mut self, lr: f32) -> Result<StepStats> {
            self.current()?;
            self.enqueue_step(lr, 0)?;
            let s = self.fetch_stats(1)?;
            Ok(self.stats_of(&s).step)
        }

        pub(super) fn eval(&mut self, test: bool) -> Result<Option<Eval>> {
            self.current()?;
            if test && self.test.is_none() {
                return Ok(None);
            }
            self.enqueue_forward(test, false, 0, 4)?;
            let s = self.fetch_stats(1)?;
            let b = if test { self.test.as_ref().expect("test") } else { &self.train };
            Ok(Some(self.eval_of(b, s[4], s[5])))
        }

        pub(super) fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
            self.current()?;
            self.enqueue_forward(false, true, 0, 0)?;
            self.enqueue_backward()?;
            let s = self.fetch_stats(1)?;
            let mut g = vec![0.0f32; self.grads.len()];
            self.grads
                .copy_to(&mut g[..])
                .map_err(|e| cuda_err("copying the gradient", e))?;
            let net = self.unflatten(&g)?;
            Ok((
                self.eval_of(&self.train, s[0], s[1]),
                Grads {
                    w_in: net.w_in,
                    w_out: net.w_out,
                    w_in_y: net.w_in_y,
                },
            ))
        }

        fn unflatten(&self, v: &[f32]) -> Result<Network<f32>> {
            let (p, m) = (self.p, self.width);
            let (a, rest) = v.split_at(self.sizes[0]);
            let (b, c) = rest.split_at(self.sizes[1]);
            Network::new(
                DMatrix::from_column_slice(m, p, a),
                DMatrix::from_column_slice(p, m, b),
                (!c.is_empty()).then(|| DMatrix::from_column_slice(m, p, c)),
            )
        }

        fn split_tensors(&self, v: Vec<f32>) -> Vec<Vec<f32>> {
            let mut out = Vec::new();
            let mut i = 0;
            for &n in &self.sizes {
                out.push(v[i..i + n].to_vec());
                i += n;
            }
            out
        }

        pub(super) fn network(&self) -> Result<Network<f32>> {
            self.current()?;
            self.synchronize()?;
            let mut w = vec![0.0f32; self.params.len()];
            self.params
                .copy_to(&mut w[..])
                .map_err(|e| cuda_err("copying the weights", e))?;
            self.unflatten(&w)
        }

        pub(super) fn optimizer(&self) -> Result<Optimizer<f32>> {
            self.current()?;
            self.synchronize()?;
            Ok(match self.opt {
                OptKind::Sgd { wd } => Optimizer::Sgd(Sgd { weight_decay: wd }),
                OptKind::Adamw { wd, b1, b2, eps, t } => {
                    let e = |e| cuda_err("copying the optimiser state", e);
                    let mut m = vec![0.0f32; self.adam_m.len()];
                    let mut v = vec![0.0f32; self.adam_v.len()];
                    self.adam_m.copy_to(&mut m[..]).map_err(e)?;
                    self.adam_v.copy_to(&mut v[..]).map_err(e)?;
                    Optimizer::Adamw(AdamW {
                        weight_decay: wd,
                        beta1: b1,
                        beta2: b2,
                        eps,
                        t,
                        m: self.split_tensors(m),
                        v: self.split_tensors(v),
                    })
                }
            })
        }

        pub(super) fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) -> Result<()> {
            self.current()?;
            self.synchronize()?;
            let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
            if sizes != self.sizes || net.p != self.p {
                return Err(Error::Shape {
                    what: "network given to the CUDA backend".into(),
                    found: format!("tensor sizes {sizes:?}"),
                    expected: format!("tensor sizes {:?}", self.sizes),
                });
            }
            self.params
                .copy_from(&concat(&net)[..])
                .map_err(|e| cuda_err("uploading the weights", e))?;
            let was_adam = matches!(self.opt, OptKind::Adamw { .. });
            if was_adam != matches!(opt, Optimizer::Adamw(_)) {
                return Err(Error::Shape {
                    what: "optimiser given to the CUDA backend".into(),
                    found: opt_name(&opt).into(),
                    expected: if was_adam { "adamw" } else { "sgd" }.into(),
                });
            }
            self.opt = opt_kind(&opt);
            self.upload_opt(&opt)
        }
    }

    fn opt_name(o: &Optimizer<f32>) -> &'static str {
        match o {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Adamw(_) => "adamw",
        }
    }
}
