//! The kernels of `kernels/train_step.cu` compiled for the host (`kernels/emu.cpp`, built by
//! `build.rs` with the feature `kernel-emu`), launched from the same [`super::super::spec`]
//! (kernel, geometry, arguments in order) as the device, on the twin's buffers. Arguments are
//! passed as the driver's `cuLaunchKernel` takes them: an array of pointers to the values.

use super::HostKernels;
use crate::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};
use crate::backend::cuda::gemm::GemmCall;
use crate::backend::cuda::kernels::{AdamScalars, PTX};
use crate::backend::cuda::launch::{spec, Arg, BatchArray, LaunchSpec, ParamKind};
use crate::backend::cuda::ptx::ptx_params;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::OnceLock;

extern "C" {
    /// Runs kernel `name` over the grid; `args[i]` points to the i-th argument's value.
    /// Returns 0, or 1 for an unknown kernel.
    fn emu_launch(
        name: *const c_char,
        gx: u32,
        gy: u32,
        gz: u32,
        block: u32,
        args: *const *mut c_void,
    ) -> i32;
}

fn signatures() -> &'static BTreeMap<String, Vec<ParamKind>> {
    static S: OnceLock<BTreeMap<String, Vec<ParamKind>>> = OnceLock::new();
    S.get_or_init(|| ptx_params(PTX))
}

impl HostKernels {
    /// The host address an argument stands for, or its value, in an 8-byte slot.
    fn slot(&mut self, a: &Arg) -> u64 {
        match *a {
            Arg::Ptr(at) => match at.buf {
                KernelBuffer::RowLoss
                | KernelBuffer::RowCorrect
                | KernelBuffer::Partial
                | KernelBuffer::Stats => {
                    let b = match at.buf {
                        KernelBuffer::RowLoss => &mut self.row_loss,
                        KernelBuffer::RowCorrect => &mut self.row_correct,
                        KernelBuffer::Partial => &mut self.partial,
                        _ => &mut self.stats,
                    };
                    assert!(at.off < b.len(), "{at:?} outside its buffer");
                    b[at.off..].as_mut_ptr() as u64
                }
                _ => {
                    let b = self.f32_buf_mut(at.buf);
                    assert!(at.off < b.len(), "{at:?} outside its buffer");
                    b[at.off..].as_mut_ptr() as u64
                }
            },
            Arg::Batch(sel, arr) => {
                let b = self.batch(sel);
                match arr {
                    BatchArray::X => b.x.as_ptr() as u64,
                    BatchArray::Y => b.y.as_ptr() as u64,
                    BatchArray::Label => b.label.as_ptr() as u64,
                    BatchArray::Weight => b.weight.as_ptr() as u64,
                    BatchArray::Scale => b.scale.as_ptr() as u64,
                }
            }
            Arg::List(k, rows) => {
                let (offs, list) = &self.train.lists[k];
                if rows {
                    list.as_ptr() as u64
                } else {
                    offs.as_ptr() as u64
                }
            }
            Arg::Null => 0,
            Arg::I32(v) => v as u32 as u64,
            Arg::I64(v) => v as u64,
            Arg::F32(v) => v.to_bits() as u64,
        }
    }

    /// Runs one launch on the host emulation, after the same signature check as the device.
    fn emu_run(&mut self, l: &LaunchSpec) -> Result<()> {
        l.check(signatures())?;
        let mut slots: Vec<u64> = l.args.iter().map(|a| self.slot(a)).collect();
        let ptrs: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|v| v as *mut u64 as *mut c_void)
            .collect();
        let ([gx, gy, gz], block) = l.launch;
        let name = CString::new(l.kernel).expect("kernel name");
        // SAFETY: as for cuLaunchKernel: the arguments match the kernel's parameters (checked
        // above) and address live buffers of the sizes the kernel assumes.
        let rc = unsafe { emu_launch(name.as_ptr(), gx, gy, gz, block, ptrs.as_ptr()) };
        if rc != 0 {
            return Err(Error::BackendUnavailable {
                backend: "kernel-emu",
                reason: format!("the emulation has no kernel {}", l.kernel),
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emu_first_layer(
        &mut self,
        w_x: BufferOffset,
        w_y: BufferOffset,
        sel: PairSet,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()> {
        self.emu_run(&spec::first_layer(w_x, w_y, sel, rows, width, act, with_dh))
    }

    pub(super) fn emu_gemm(&mut self, c: &GemmCall) -> Result<()> {
        self.emu_run(&spec::gemm(c))
    }

    pub(super) fn emu_sum_splits(
        &mut self,
        ws: BufferOffset,
        splits: usize,
        stride: usize,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        self.emu_run(&spec::sum_splits(ws, splits, stride, n, out))
    }

    pub(super) fn emu_loss_rows(
        &mut self,
        sel: PairSet,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(BufferOffset, usize, usize)>,
    ) -> Result<()> {
        self.emu_run(&spec::loss_rows(sel, rows, p, kind, want_grad, parts))
    }

    pub(super) fn emu_reduce2(
        &mut self,
        x: BufferOffset,
        y: BufferOffset,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        self.emu_run(&spec::reduce2(x, y, n, out))
    }

    pub(super) fn emu_scatter_first(
        &mut self,
        list: usize,
        width: usize,
        p: usize,
        g: BufferOffset,
    ) -> Result<()> {
        self.emu_run(&spec::scatter_first(list, width, p, g))
    }

    pub(super) fn emu_sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()> {
        self.emu_run(&spec::sgd_step(n, lr, wd))
    }

    pub(super) fn emu_adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()> {
        self.emu_run(&spec::adamw_step(n, s))
    }
}
