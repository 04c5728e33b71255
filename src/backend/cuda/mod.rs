//! The CUDA backend (feature `cuda`, off by default): the whole training step on the GPU in f32.
//!
//! The API always compiles. Without the feature, [`cuda_available`] and [`CudaBackend::new`]
//! return [`crate::Error::BackendUnavailable`] and [`CudaBackend`] cannot be constructed; with it, they
//! talk to the driver through `cust` and fail with the same error when there is no driver or no
//! device. (A `--features cuda` binary links `libcuda.so.1` dynamically, so it needs the NVIDIA
//! driver's library installed to start at all; the default build needs nothing.)
//!
//! # What runs where
//! The prepared pairs (see [`crate::numerics::batch::Batch`]: the tied model's (x, y)/(y, x) rows merged
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
//! split along k ([`GemmCall::split_plan`](gemm::GemmCall::split_plan), a rule of the shapes only): split s writes its
//! partial product to a workspace, and `sum_splits` (or, for the logits, `loss_rows` itself)
//! adds the partials in split order. Large products run on 128 x 128 tiles
//! ([`GemmCall::tile`](gemm::GemmCall::tile)); both GEMM kernels compute each output as one fma chain over
//! increasing k. Every reduction has a fixed order (no atomics), so the backend is
//! deterministic and its results do not depend on the device.
//!
//! Per-step scalars go into a device buffer of f64 and come back in batches
//! ([`CudaBackend::run_epochs`]); the [`Backend`] methods fetch them after each call. Weights
//! and optimiser state come back only through [`Backend::network`] / [`Backend::optimizer`].
//! Every launch is described once ([`spec`](launch::spec): kernel, geometry from [`geom`](launch::geom), arguments in the
//! kernel's order) and checked against the PTX's parameter list ([`ptx_params`](ptx::ptx_params)) before it
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
//! [`Kernels`](kernels::Kernels) is implemented by the device and by the host), each kernel replaced by a Rust
//! function that performs the kernel's f32/f64 operations in the kernel's order, with the
//! kernel's thread and block decomposition for every reduction. The PTX is compiled without
//! floating-point contraction (every `add`/`mul` is `.rn`, so `ptxas` may not fuse them) and the
//! GEMMs' `fmaf` is `f32::mul_add`, so the device should reproduce the twin bit for bit.
//! With the feature `kernel-emu`, `CudaTwin::new_emulated` runs instead the C source of the
//! kernels compiled for the host, launched from the same [`spec`](launch::spec)s with the device's geometry
//! (blocks in sequence, a block's threads as fibers meeting at each barrier); it reproduces
//! the twin bit for bit. `tests/cuda_parity.rs` holds the twin to the CPU backend always, the
//! emulation to the twin with `kernel-emu`, and the device to both when a GPU is present.

#[cfg(feature = "cuda")]
use crate::backend::cuda::buffers::PairSet;
use crate::backend::cuda::kernels::EpochStats;
#[cfg(feature = "cuda")]
use crate::backend::cuda::kernels::Kernels;
#[cfg(feature = "cuda")]
use crate::backend::cuda::launcher::StepLauncher;
use crate::backend::{Backend, StepStats};
#[cfg(not(feature = "cuda"))]
use crate::error::Error;
use crate::error::Result;
use crate::numerics::activation::Activation;
use crate::numerics::grad::{Eval, Grads};
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::optim::Optimizer;
use crate::numerics::task::Split;

pub mod batch;
pub mod buffers;
#[cfg(feature = "cuda")]
mod device;
pub mod gemm;
pub mod kernels;
pub mod launch;
pub(crate) mod launcher;
pub mod layout;
pub mod ptx;
pub mod twin;

#[cfg(not(feature = "cuda"))]
fn no_feature() -> Error {
    Error::BackendUnavailable {
        backend: "cuda",
        reason: "this build has no CUDA backend (rebuild with --features cuda)".into(),
    }
}

/// Checks that the CUDA backend can run here: the feature is compiled in, the driver loads and
/// reports at least one device. Returns [`crate::Error::BackendUnavailable`] saying which is missing.
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
    e: StepLauncher<device::DeviceKernels>,
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
    /// Uploads the split's prepared pairs (as [`Batch::new`](crate::numerics::batch::Batch::new) prepares them), the weights and
    /// the optimiser state to device 0.
    ///
    /// # Errors
    /// [`crate::Error::BackendUnavailable`] without the `cuda` feature, without a driver or device, or
    /// when the device cannot take the buffers or the kernels; [`crate::Error::EmptyPairs`] for an
    /// empty training set; [`crate::Error::Shape`] when the split or the moments do not fit the network.
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
                e: StepLauncher::new(net, act, loss, split, opt, |s| {
                    device::DeviceKernels::new(dev, s)
                })?,
            })
        }
    }

    /// Runs one epoch per entry of `lrs` (test evaluation when the split is not full, then the
    /// step with that learning rate) without a host round trip in between; the per-epoch
    /// scalars come back together, one copy per [`STATS_BATCH`](kernels::STATS_BATCH) epochs.
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
/// [`CudaBackend::loss_and_grad`] return it as a [`crate::Error`] instead.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
impl Backend<f32> for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }
    fn eval_test(&mut self) -> Option<Eval> {
        with_engine!(mut self, e => e.eval(PairSet::Test).expect("cuda eval_test"))
    }
    fn eval_train(&mut self) -> Eval {
        with_engine!(mut self, e => e.eval(PairSet::Train).expect("cuda eval_train").expect("train"))
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
