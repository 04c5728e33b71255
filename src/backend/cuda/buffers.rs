//! The buffers the kernels address and offsets into them.

/// Device (or twin) buffers the kernels address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelBuffer {
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
    /// Split-K partial products (f32, [`Layout::split_len`](super::layout::Layout::split_len)).
    SplitK,
}

/// An element offset into a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferOffset {
    /// The buffer.
    pub buf: KernelBuffer,
    /// Offset in elements.
    pub off: usize,
}

/// The offset `off` of `buf`.
pub(crate) fn at(buf: KernelBuffer, off: usize) -> BufferOffset {
    BufferOffset { buf, off }
}

/// Which prepared batch a kernel reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairSet {
    /// The training pairs.
    Train,
    /// The test pairs.
    Test,
}
