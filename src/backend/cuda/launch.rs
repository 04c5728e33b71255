//! Kernel launches: their geometry ([`geom`]), their arguments ([`Arg`]) and one description
//! per launch ([`spec`]), checked against the PTX's parameters before it runs.

use crate::backend::cuda::buffers::{BufferOffset, PairSet};
use crate::error::{Error, Result};
/// Launch geometry of every kernel, `([grid x, y, z], threads per block)`: one definition for
/// the device and the host emulation (feature `kernel-emu`).
pub mod geom {
    use crate::backend::cuda::gemm::GemmCall;
    use crate::backend::cuda::kernels::{BLOCK, OPT_BLOCKS};

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
    Ptr(BufferOffset),
    /// The address of an array of a prepared batch.
    Batch(PairSet, BatchArray),
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
    /// Checks the arguments against the kernel's parameters in `params` (from [`ptx_params`](super::ptx::ptx_params)).
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

/// The launch of each kernel, argument by argument in the kernel's parameter order: the one
/// place where the Rust side matches the kernels' signatures (checked against the PTX's
/// parameters before every launch).
pub mod spec {
    use super::{geom, Arg, BatchArray, LaunchSpec};
    use crate::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};
    use crate::backend::cuda::gemm::GemmCall;
    use crate::backend::cuda::kernels::AdamScalars;

    fn at(buf: KernelBuffer, off: usize) -> Arg {
        Arg::Ptr(BufferOffset { buf, off })
    }

    /// `first_layer(w_x, w_y, xs, ys, rows, width, act, a, dh)`.
    #[allow(clippy::too_many_arguments)]
    pub fn first_layer(
        w_x: BufferOffset,
        w_y: BufferOffset,
        sel: PairSet,
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
                at(KernelBuffer::Act, 0),
                if with_dh {
                    at(KernelBuffer::Dh, 0)
                } else {
                    Arg::Null
                },
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
    pub fn sum_splits(
        ws: BufferOffset,
        splits: usize,
        stride: usize,
        n: usize,
        out: BufferOffset,
    ) -> LaunchSpec {
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
        sel: PairSet,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(BufferOffset, usize, usize)>,
    ) -> LaunchSpec {
        let (pp, splits, stride) = match parts {
            Some((ws, s, st)) => (Arg::Ptr(ws), s, st),
            None => (Arg::Null, 1, 0),
        };
        LaunchSpec {
            kernel: "loss_rows",
            launch: geom::loss_rows(rows),
            args: vec![
                at(KernelBuffer::Z, 0),
                Arg::I32(rows as i32),
                Arg::I32(p as i32),
                Arg::Batch(sel, BatchArray::Label),
                Arg::Batch(sel, BatchArray::Weight),
                Arg::Batch(sel, BatchArray::Scale),
                Arg::I32(kind),
                Arg::I32(want_grad as i32),
                at(KernelBuffer::RowLoss, 0),
                at(KernelBuffer::RowCorrect, 0),
                pp,
                Arg::I32(splits as i32),
                Arg::I64(stride as i64),
            ],
        }
    }

    /// `reduce2(x, y, n, out, accumulate = 0)`.
    pub fn reduce2(x: BufferOffset, y: BufferOffset, n: usize, out: BufferOffset) -> LaunchSpec {
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
    pub fn scatter_first(list: usize, width: usize, p: usize, g: BufferOffset) -> LaunchSpec {
        LaunchSpec {
            kernel: "scatter_first",
            launch: geom::scatter_first(width, p),
            args: vec![
                at(KernelBuffer::Dh, 0),
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
                at(KernelBuffer::Params, 0),
                at(KernelBuffer::Grads, 0),
                Arg::I64(n as i64),
                Arg::F32(lr),
                Arg::F32(wd),
                at(KernelBuffer::Partial, 0),
            ],
        }
    }

    /// `adamw_step(w, g, m, v, n, decay, b1, b2, step, bc2_sqrt, eps, partial)`.
    pub fn adamw_step(n: usize, s: AdamScalars) -> LaunchSpec {
        LaunchSpec {
            kernel: "adamw_step",
            launch: geom::optimizer(),
            args: vec![
                at(KernelBuffer::Params, 0),
                at(KernelBuffer::Grads, 0),
                at(KernelBuffer::AdamM, 0),
                at(KernelBuffer::AdamV, 0),
                Arg::I64(n as i64),
                Arg::F32(s.decay),
                Arg::F32(s.b1),
                Arg::F32(s.b2),
                Arg::F32(s.step),
                Arg::F32(s.bc2_sqrt),
                Arg::F32(s.eps),
                at(KernelBuffer::Partial, 0),
            ],
        }
    }
}
