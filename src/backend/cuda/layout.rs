//! The static description of a backend's problem (sizes, settings) and the three matrix
//! products it plans.

use crate::backend::cuda::buffers::{at, KernelBuffer};
use crate::backend::cuda::gemm::GemmCall;
use crate::numerics::activation::Activation;
use crate::numerics::loss::Loss;
use crate::numerics::network::Tying;
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
    pub(crate) fn total(&self) -> usize {
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
            a: at(KernelBuffer::Act, 0),
            sai: m,
            sak: 1,
            b: at(KernelBuffer::Params, self.sizes[0]),
            sbk: p,
            sbj: 1,
            c: at(KernelBuffer::Z, 0),
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
            a: at(KernelBuffer::Act, 0),
            sai: 1,
            sak: m,
            b: at(KernelBuffer::Z, 0),
            sbk: p,
            sbj: 1,
            c: at(KernelBuffer::Grads, self.sizes[0]),
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
            a: at(KernelBuffer::Z, 0),
            sai: p,
            sak: 1,
            b: at(KernelBuffer::Params, self.sizes[0]),
            sbk: 1,
            sbj: p,
            c: at(KernelBuffer::Dh, 0),
            ldc: m,
            scale_by_c: true,
            kchunk: p,
            splits: 1,
            split_stride: 0,
        }
    }
}
