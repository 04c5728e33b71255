//! The prepared pairs as the kernels read them.

use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::loss::Loss;
use crate::numerics::network::Tying;
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
    pub fn new(pairs: &[crate::numerics::task::Pair], p: usize, tying: Tying, loss: Loss) -> Self {
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
