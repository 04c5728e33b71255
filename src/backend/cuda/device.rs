//! The device executor of [`super::Kernels`]: buffers in device memory, kernels launched from
//! the embedded PTX on one stream (feature `cuda`).

use super::geom;
use super::{
    AdamScalars, At, Buf, GemmCall, KernelBatch, Kernels, Sel, Setup, OPT_BLOCKS, PTX, SLOT,
    STATS_BATCH,
};
use crate::error::{Error, Result};
use cust::context::CurrentContext;
use cust::error::CudaError;
use cust::prelude::*;

fn cuda_err(what: &str, e: CudaError) -> Error {
    let reason = match e {
        CudaError::NoDevice => "no CUDA device (the driver reports none)".to_string(),
        CudaError::InvalidPtx | CudaError::NoBinaryForGpu => format!(
            "{what}: the driver cannot JIT-compile the kernels' PTX (ISA 7.0 for sm_70 or newer): \
             driver older than CUDA 11.0, or GPU older than sm_70"
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

/// A grid as cust takes it.
fn dim(g: [u32; 3]) -> (u32, u32, u32) {
    (g[0], g[1], g[2])
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

    fn f32_buf(&self, b: Buf) -> &DeviceBuffer<f32> {
        match b {
            Buf::Params => &self.params,
            Buf::Grads => &self.grads,
            Buf::AdamM => &self.adam_m,
            Buf::AdamV => &self.adam_v,
            Buf::Act => &self.act,
            Buf::Dh => &self.dh,
            Buf::Z => &self.z,
            Buf::SplitK => &self.splitk,
            other => panic!("{other:?} is not an f32 buffer"),
        }
    }

    fn f64_buf(&self, b: Buf) -> &DeviceBuffer<f64> {
        match b {
            Buf::RowLoss => &self.row_loss,
            Buf::RowCorrect => &self.row_correct,
            Buf::Partial => &self.partial,
            Buf::Stats => &self.stats,
            other => panic!("{other:?} is not an f64 buffer"),
        }
    }

    /// Device pointer of an f32 location (offsets are in bounds by the layout's construction).
    fn p32(&self, a: At) -> DevicePointer<f32> {
        let b = self.f32_buf(a.buf);
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b.as_device_ptr().wrapping_add(a.off)
    }

    fn p64(&self, a: At) -> DevicePointer<f64> {
        let b = self.f64_buf(a.buf);
        assert!(a.off < b.len(), "{a:?} outside its buffer");
        b.as_device_ptr().wrapping_add(a.off)
    }

    fn batch(&self, sel: Sel) -> &DevBatch {
        match sel {
            Sel::Train => &self.train,
            Sel::Test => self.test.as_ref().expect("test batch"),
        }
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
        w_x: At,
        w_y: At,
        sel: Sel,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()> {
        let f = self.function("first_layer")?;
        let b = self.batch(sel);
        let dh = if with_dh {
            self.dh.as_device_ptr()
        } else {
            DevicePointer::null()
        };
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::first_layer(rows, width);
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.p32(w_x), self.p32(w_y), b.x.as_device_ptr(), b.y.as_device_ptr(),
                rows as i32, width as i32, act, self.act.as_device_ptr(), dh
            ))
            .map_err(launch_err)
        }
    }

    fn gemm(&mut self, c: &GemmCall) -> Result<()> {
        let f = self.function(c.kernel())?;
        let stream = &self.stream;
        let (g, block) = geom::gemm(c);
        let out = self.p32(c.c);
        let d = if c.scale_by_c {
            out
        } else {
            DevicePointer::null()
        };
        unsafe {
            launch!(f<<<dim(g), block, 0, stream>>>(
                c.nr as i32, c.nc as i32, c.nk as i32,
                self.p32(c.a), c.sai as i64, c.sak as i64,
                self.p32(c.b), c.sbk as i64, c.sbj as i64,
                out, c.ldc as i64, d, c.kchunk as i32, c.split_stride as i64
            ))
            .map_err(launch_err)
        }
    }

    fn sum_splits(
        &mut self,
        ws: At,
        splits: usize,
        stride: usize,
        n: usize,
        out: At,
    ) -> Result<()> {
        let f = self.function("sum_splits")?;
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::sum_splits(n);
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.p32(ws), splits as i32, stride as i64, n as i64, self.p32(out)
            ))
            .map_err(launch_err)
        }
    }

    fn loss_rows(
        &mut self,
        sel: Sel,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(At, usize, usize)>,
    ) -> Result<()> {
        let f = self.function("loss_rows")?;
        let (pp, splits, stride) = match parts {
            Some((ws, s, st)) => (self.p32(ws), s as i32, st as i64),
            None => (DevicePointer::null(), 1, 0),
        };
        let b = self.batch(sel);
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::loss_rows(rows);
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.z.as_device_ptr(), rows as i32, p as i32, b.label.as_device_ptr(),
                b.weight.as_device_ptr(), b.scale.as_device_ptr(), kind, want_grad as i32,
                self.row_loss.as_device_ptr(), self.row_correct.as_device_ptr(), pp, splits,
                stride
            ))
            .map_err(launch_err)
        }
    }

    fn reduce2(&mut self, x: At, y: At, n: usize, out: At) -> Result<()> {
        let f = self.function("reduce2")?;
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::reduce2();
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.p64(x), self.p64(y), n as i32, self.p64(out), 0i32
            ))
            .map_err(launch_err)
        }
    }

    fn scatter_first(&mut self, list: usize, width: usize, p: usize, g: At) -> Result<()> {
        let f = self.function("scatter_first")?;
        let (offs, rows) = &self.train.lists[list];
        let stream = &self.stream;
        unsafe {
            let (grid, block) = geom::scatter_first(width, p);
            launch!(f<<<dim(grid), block, 0, stream>>>(
                self.dh.as_device_ptr(), width as i32, offs.as_device_ptr(),
                rows.as_device_ptr(), self.p32(g)
            ))
            .map_err(launch_err)
        }
    }

    fn sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()> {
        let f = self.function("sgd_step")?;
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::optimizer();
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.params.as_device_ptr(), self.grads.as_device_ptr(), n as i64, lr, wd,
                self.partial.as_device_ptr()
            ))
            .map_err(launch_err)
        }
    }

    fn adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()> {
        let f = self.function("adamw_step")?;
        let stream = &self.stream;
        unsafe {
            let (g, block) = geom::optimizer();
            launch!(f<<<dim(g), block, 0, stream>>>(
                self.params.as_device_ptr(), self.grads.as_device_ptr(),
                self.adam_m.as_device_ptr(), self.adam_v.as_device_ptr(), n as i64,
                s.decay, s.b1, s.b2, s.step, s.bc2_sqrt, s.eps, self.partial.as_device_ptr()
            ))
            .map_err(launch_err)
        }
    }

    fn read_f32(&self, buf: Buf, len: usize) -> Result<Vec<f32>> {
        self.synchronize()?;
        let mut host = vec![0.0f32; len];
        self.f32_buf(buf)
            .index(..len)
            .copy_to(&mut host[..])
            .map_err(|e| cuda_err("copying from the device", e))?;
        Ok(host)
    }

    fn write_f32(&mut self, buf: Buf, data: &[f32]) -> Result<()> {
        self.synchronize()?;
        let b = self.f32_buf(buf);
        let mut host = vec![0.0f32; b.len()];
        b.copy_to(&mut host[..])
            .map_err(|e| cuda_err("copying from the device", e))?;
        host[..data.len()].copy_from_slice(data);
        let e = |e| cuda_err("copying to the device", e);
        match buf {
            Buf::Params => self.params.copy_from(&host[..]).map_err(e)?,
            Buf::AdamM => self.adam_m.copy_from(&host[..]).map_err(e)?,
            Buf::AdamV => self.adam_v.copy_from(&host[..]).map_err(e)?,
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
