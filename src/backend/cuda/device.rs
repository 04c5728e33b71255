//! The device executor of [`super::Kernels`]: buffers in device memory, kernels launched from
//! the embedded PTX on one stream (feature `cuda`).

use crate::backend::cuda::batch::KernelBatch;
use crate::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};
use crate::backend::cuda::gemm::GemmCall;
use crate::backend::cuda::kernels::{AdamScalars, Kernels, OPT_BLOCKS, PTX, SLOT, STATS_BATCH};
use crate::backend::cuda::launch::{spec, Arg, BatchArray, LaunchSpec, ParamKind};
use crate::backend::cuda::launcher::Setup;
use crate::backend::cuda::ptx::ptx_params;
use crate::error::{Error, Result};
use cust::context::CurrentContext;
use cust::error::CudaError;
use cust::prelude::*;
use std::collections::BTreeMap;
use std::ffi::c_void;

#[cfg(not(target_endian = "little"))]
compile_error!("the CUDA backend packs kernel arguments little-endian");

fn cuda_err(what: &str, e: CudaError) -> Error {
    let reason = match e {
        CudaError::NoDevice => "no CUDA device (the driver reports none)".to_string(),
        CudaError::InvalidPtx | CudaError::NoBinaryForGpu => format!(
            "{what}: the driver cannot JIT-compile the kernels' PTX (ISA 6.0, target sm_70): a \
             driver older than CUDA 9, or a GPU older than Volta (sm_70)"
        ),
        other => format!("{what}: {other:?}"),
    };
    Error::BackendUnavailable {
        backend: "cuda",
        reason,
    }
}

fn launch_err(e: CudaError) -> Error {
    cuda_err("launching a kernel", e)
}

/// Initialises the driver API and checks for a device; returns device 0.
pub(super) fn init_device() -> Result<Device> {
    cust::init(CudaFlags::empty()).map_err(|e| cuda_err("initialising the CUDA driver", e))?;
    let n = Device::num_devices().map_err(|e| cuda_err("counting devices", e))?;
    if n == 0 {
        return Err(cuda_err("counting devices", CudaError::NoDevice));
    }
    Device::get_device(0).map_err(|e| cuda_err("opening device 0", e))
}

/// A batch resident on the device.
struct DevBatch {
    x: DeviceBuffer<u32>,
    y: DeviceBuffer<u32>,
    label: DeviceBuffer<u32>,
    weight: DeviceBuffer<f32>,
    scale: DeviceBuffer<f32>,
    lists: Vec<(DeviceBuffer<i32>, DeviceBuffer<i32>)>,
}

impl DevBatch {
    fn new(b: &KernelBatch, with_lists: bool) -> Result<Self> {
        let e = |e| cuda_err("uploading the pairs", e);
        let mut lists = Vec::new();
        if with_lists {
            for (offs, list) in &b.lists {
                // Device buffers cannot be empty: keep one unused entry.
                let list = if list.is_empty() {
                    vec![0]
                } else {
                    list.clone()
                };
                lists.push((
                    DeviceBuffer::from_slice(offs).map_err(e)?,
                    DeviceBuffer::from_slice(&list).map_err(e)?,
                ));
            }
        }
        Ok(DevBatch {
            x: DeviceBuffer::from_slice(&b.x).map_err(e)?,
            y: DeviceBuffer::from_slice(&b.y).map_err(e)?,
            label: DeviceBuffer::from_slice(&b.label).map_err(e)?,
            weight: DeviceBuffer::from_slice(&b.weight).map_err(e)?,
            scale: DeviceBuffer::from_slice(&b.scale).map_err(e)?,
            lists,
        })
    }
}

pub(crate) struct DeviceKernels {
    params: DeviceBuffer<f32>,
    grads: DeviceBuffer<f32>,
    adam_m: DeviceBuffer<f32>,
    adam_v: DeviceBuffer<f32>,
    act: DeviceBuffer<f32>,
    dh: DeviceBuffer<f32>,
    z: DeviceBuffer<f32>,
    splitk: DeviceBuffer<f32>,
    row_loss: DeviceBuffer<f64>,
    row_correct: DeviceBuffer<f64>,
    partial: DeviceBuffer<f64>,
    stats: DeviceBuffer<f64>,
    train: DevBatch,
    test: Option<DevBatch>,
    /// Parameter kinds of every kernel, from the PTX.
    signatures: BTreeMap<String, Vec<ParamKind>>,
    stream: Stream,
    module: Module,
    device: Device,
    // Declared last so it is dropped last: the buffers, stream and module need it.
    ctx: Context,
}

impl Drop for DeviceKernels {
    fn drop(&mut self) {
        // Free the buffers in this context whatever thread drops the backend.
        let _ = CurrentContext::set_current(&self.ctx);
        let _ = self.stream.synchronize();
    }
}

impl DeviceKernels {
    pub(super) fn new(device: Device, s: &Setup) -> Result<Self> {
        let ctx = Context::new(device).map_err(|e| cuda_err("creating a context", e))?;
        CurrentContext::set_current(&ctx).map_err(|e| cuda_err("creating a context", e))?;
        let module = Module::from_ptx(PTX, &[]).map_err(|e| cuda_err("loading the kernels", e))?;
        // A blocking stream: its kernels wait for the (legacy default stream) copies cust makes
        // from pageable memory, whose DMA may still run when the copy call returns.
        let stream = Stream::new(StreamFlags::DEFAULT, None)
            .map_err(|e| cuda_err("creating a stream", e))?;
        let lay = s.lay;
        let total: usize = lay.sizes.iter().sum();
        let rows_max = lay.rows_max();
        let alloc = |e| cuda_err("allocating device memory", e);
        let (m, v) = s.adam.clone().unwrap_or((vec![0.0; 1], vec![0.0; 1]));
        let k = DeviceKernels {
            params: DeviceBuffer::from_slice(&s.params).map_err(alloc)?,
            grads: DeviceBuffer::zeroed(total).map_err(alloc)?,
            adam_m: DeviceBuffer::from_slice(&m).map_err(alloc)?,
            adam_v: DeviceBuffer::from_slice(&v).map_err(alloc)?,
            act: DeviceBuffer::zeroed(rows_max * lay.width).map_err(alloc)?,
            dh: DeviceBuffer::zeroed(lay.train.0 * lay.width).map_err(alloc)?,
            z: DeviceBuffer::zeroed(rows_max * lay.p).map_err(alloc)?,
            splitk: DeviceBuffer::zeroed(lay.split_len()).map_err(alloc)?,
            row_loss: DeviceBuffer::zeroed(rows_max).map_err(alloc)?,
            row_correct: DeviceBuffer::zeroed(rows_max).map_err(alloc)?,
            partial: DeviceBuffer::zeroed(2 * OPT_BLOCKS).map_err(alloc)?,
            stats: DeviceBuffer::zeroed(SLOT * STATS_BATCH).map_err(alloc)?,
            train: DevBatch::new(s.train, true)?,
            test: s.test.map(|t| DevBatch::new(t, false)).transpose()?,
            signatures: ptx_params(PTX),
            stream,
            module,
            device,
            ctx,
        };
        // All uploads done before the first kernel.
        CurrentContext::synchronize().map_err(|e| cuda_err("uploading", e))?;
        Ok(k)
    }

    pub(super) fn device_name(&self) -> String {
        self.device
            .name()
            .unwrap_or_else(|e| format!("unknown ({e:?})"))
    }

    pub(super) fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| cuda_err("running the kernels", e))
    }

    fn f32_buf(&self, b: KernelBuffer) -> &DeviceBuffer<f32> {
        match b {
            KernelBuffer::Params => &self.params,
            KernelBuffer::Grads => &self.grads,
            KernelBuffer::AdamM => &self.adam_m,
            KernelBuffer::AdamV => &self.adam_v,
            KernelBuffer::Act => &self.act,
            KernelBuffer::Dh => &self.dh,
            KernelBuffer::Z => &self.z,
            KernelBuffer::SplitK => &self.splitk,
            other => panic!("{other:?} is not an f32 buffer"),
        }
    }

    fn f64_buf(&self, b: KernelBuffer) -> &DeviceBuffer<f64> {
        match b {
            KernelBuffer::RowLoss => &self.row_loss,
            KernelBuffer::RowCorrect => &self.row_correct,
            KernelBuffer::Partial => &self.partial,
            KernelBuffer::Stats => &self.stats,
            other => panic!("{other:?} is not an f64 buffer"),
        }
    }

    /// Device pointer of an f32 location (offsets are in bounds by the layout's construction).
    fn p32(&self, a: BufferOffset) -> DevicePointer<f32> {
        let b = self.f32_buf(a.buf);
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b.as_device_ptr().wrapping_add(a.off)
    }

    fn p64(&self, a: BufferOffset) -> DevicePointer<f64> {
        let b = self.f64_buf(a.buf);
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b.as_device_ptr().wrapping_add(a.off)
    }

    fn batch(&self, sel: PairSet) -> &DevBatch {
        match sel {
            PairSet::Train => &self.train,
            PairSet::Test => self.test.as_ref().expect("test batch"),
        }
    }

    /// The device address an argument stands for (pointers) or its value (scalars), in the
    /// low bytes of an 8-byte slot (little-endian, as cuLaunchKernel reads parameters).
    fn slot(&self, a: &Arg) -> u64 {
        match *a {
            Arg::Ptr(at) => match at.buf {
                KernelBuffer::RowLoss
                | KernelBuffer::RowCorrect
                | KernelBuffer::Partial
                | KernelBuffer::Stats => self.p64(at).as_raw(),
                _ => self.p32(at).as_raw(),
            },
            Arg::Batch(sel, arr) => {
                let b = self.batch(sel);
                match arr {
                    BatchArray::X => b.x.as_device_ptr().as_raw(),
                    BatchArray::Y => b.y.as_device_ptr().as_raw(),
                    BatchArray::Label => b.label.as_device_ptr().as_raw(),
                    BatchArray::Weight => b.weight.as_device_ptr().as_raw(),
                    BatchArray::Scale => b.scale.as_device_ptr().as_raw(),
                }
            }
            Arg::List(k, rows) => {
                let (offs, list) = &self.train.lists[k];
                if rows {
                    list.as_device_ptr().as_raw()
                } else {
                    offs.as_device_ptr().as_raw()
                }
            }
            Arg::Null => 0,
            Arg::I32(v) => v as u32 as u64,
            Arg::I64(v) => v as u64,
            Arg::F32(v) => v.to_bits() as u64,
        }
    }

    /// Launches a kernel on the stream after checking its arguments against the PTX.
    fn launch(&self, l: &LaunchSpec) -> Result<()> {
        l.check(&self.signatures)?;
        let f = self.function(l.kernel)?;
        let mut slots: Vec<u64> = l.args.iter().map(|a| self.slot(a)).collect();
        let ptrs: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|v| v as *mut u64 as *mut c_void)
            .collect();
        let ([gx, gy, gz], block) = l.launch;
        // SAFETY: the arguments match the kernel's parameters in number and size (checked
        // above) and address live buffers of the sizes the kernel assumes.
        unsafe { self.stream.launch(&f, (gx, gy, gz), block, 0, &ptrs) }.map_err(launch_err)
    }

    fn function(&self, name: &str) -> Result<Function<'_>> {
        self.module
            .get_function(name)
            .map_err(|e| cuda_err(&format!("finding kernel {name}"), e))
    }
}

impl Kernels for DeviceKernels {
    fn begin(&self) -> Result<()> {
        CurrentContext::set_current(&self.ctx).map_err(|e| cuda_err("selecting the context", e))
    }

    fn first_layer(
        &mut self,
        w_x: BufferOffset,
        w_y: BufferOffset,
        sel: PairSet,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()> {
        self.launch(&spec::first_layer(w_x, w_y, sel, rows, width, act, with_dh))
    }

    fn gemm(&mut self, c: &GemmCall) -> Result<()> {
        self.launch(&spec::gemm(c))
    }

    fn sum_splits(
        &mut self,
        ws: BufferOffset,
        splits: usize,
        stride: usize,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        self.launch(&spec::sum_splits(ws, splits, stride, n, out))
    }

    fn loss_rows(
        &mut self,
        sel: PairSet,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(BufferOffset, usize, usize)>,
    ) -> Result<()> {
        self.launch(&spec::loss_rows(sel, rows, p, kind, want_grad, parts))
    }

    fn reduce2(
        &mut self,
        x: BufferOffset,
        y: BufferOffset,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        self.launch(&spec::reduce2(x, y, n, out))
    }

    fn scatter_first(
        &mut self,
        list: usize,
        width: usize,
        p: usize,
        g: BufferOffset,
    ) -> Result<()> {
        self.launch(&spec::scatter_first(list, width, p, g))
    }

    fn sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()> {
        self.launch(&spec::sgd_step(n, lr, wd))
    }

    fn adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()> {
        self.launch(&spec::adamw_step(n, s))
    }

    fn read_f32(&self, buf: KernelBuffer, len: usize) -> Result<Vec<f32>> {
        self.synchronize()?;
        let mut host = vec![0.0f32; len];
        self.f32_buf(buf)
            .index(..len)
            .copy_to(&mut host[..])
            .map_err(|e| cuda_err("copying from the device", e))?;
        Ok(host)
    }

    fn write_f32(&mut self, buf: KernelBuffer, data: &[f32]) -> Result<()> {
        self.synchronize()?;
        let b = self.f32_buf(buf);
        let mut host = vec![0.0f32; b.len()];
        b.copy_to(&mut host[..])
            .map_err(|e| cuda_err("copying from the device", e))?;
        host[..data.len()].copy_from_slice(data);
        let e = |e| cuda_err("copying to the device", e);
        match buf {
            KernelBuffer::Params => self.params.copy_from(&host[..]).map_err(e)?,
            KernelBuffer::AdamM => self.adam_m.copy_from(&host[..]).map_err(e)?,
            KernelBuffer::AdamV => self.adam_v.copy_from(&host[..]).map_err(e)?,
            other => panic!("{other:?} is not written from the host"),
        }
        CurrentContext::synchronize().map_err(e)
    }

    fn read_stats(&self, len: usize) -> Result<Vec<f64>> {
        self.synchronize()?;
        let mut host = vec![0.0f64; len];
        self.stats
            .index(..len)
            .copy_to(&mut host[..])
            .map_err(|e| cuda_err("copying the step statistics", e))?;
        Ok(host)
    }
}
