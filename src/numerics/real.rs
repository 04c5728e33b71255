//! The floating-point types the library computes in.
//!
//! Theorem tests run in `f64`; speed runs in `f32`, like PyTorch. [`Real`] gathers what the hot
//! loop needs: `num_traits::Float` arithmetic, nalgebra storage, and a dense matrix product that
//! dispatches to `matrixmultiply`'s tuned `sgemm`/`dgemm`.

use std::fmt::{Debug, Display};
use std::str::FromStr;

/// A floating-point scalar: `f32` or `f64`.
pub trait Real:
    num_traits::Float
    + nalgebra::Scalar
    + Default
    + Display
    + std::fmt::LowerExp
    + Debug
    + FromStr
    + Send
    + Sync
    + npyz::Serialize
    + npyz::Deserialize
    + npyz::AutoSerialize
    + 'static
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;

    /// Converts to `f64` exactly.
    fn f64(self) -> f64;

    /// C <- alpha * A B + beta * C for strided column- or row-major operands.
    ///
    /// A is m x k, B is k x n, C is m x n; element (i, j) of X sits at `x[i * rs + j * cs]`.
    /// When `beta == 0`, C is overwritten (its old contents, even NaN, are ignored).
    ///
    /// # Safety
    /// Every index `i * rs + j * cs` reached must lie inside the corresponding slice; the safe
    /// wrapper [`gemm`] checks this.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_real {
    ($t:ty, $gemm:path) => {
        impl Real for $t {
            const NAME: &'static str = stringify!($t);
            fn of(x: f64) -> Self {
                x as $t
            }
            fn f64(self) -> f64 {
                self as f64
            }
            unsafe fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded from the caller, who guarantees every index is in bounds.
                unsafe { $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_real!(f32, matrixmultiply::sgemm);
impl_real!(f64, matrixmultiply::dgemm);

/// `s` as `f32` numbers when `T` is `f32` (for kernels written for f32 only), else `None`.
pub fn as_f32<T: Real>(s: &[T]) -> Option<&[f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32 (same type id), so the slice's memory holds f32 numbers.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
}

/// `s` as `f32` numbers when `T` is `f32`.
pub fn as_f32_mut<T: Real>(s: &mut [T]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32 (same type id); the unique borrow moves into the result.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
}

/// Strided view of a matrix: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Strides {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl Strides {
    /// A column-major `rows x cols` matrix (nalgebra's layout).
    pub fn col_major(rows: usize, cols: usize) -> Self {
        Strides {
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }

    /// The transpose of this view (no data moves).
    pub fn t(self) -> Self {
        Strides {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn max_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.rs + (self.cols - 1) * self.cs
        }
    }
}

/// Safe dense product C <- alpha * A B + beta * C.
///
/// # Panics
/// If the shapes disagree or a view reaches outside its slice (internal invariants).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Real>(
    alpha: T,
    a: &[T],
    sa: Strides,
    b: &[T],
    sb: Strides,
    beta: T,
    c: &mut [T],
    sc: Strides,
) {
    assert_eq!(sa.cols, sb.rows, "gemm: inner dimensions");
    assert_eq!(sa.rows, sc.rows, "gemm: rows of C");
    assert_eq!(sb.cols, sc.cols, "gemm: columns of C");
    if sc.rows == 0 || sc.cols == 0 {
        return;
    }
    assert!(
        sa.cols == 0 || sa.max_index() < a.len(),
        "gemm: A out of bounds"
    );
    assert!(
        sb.cols == 0 || sb.max_index() < b.len(),
        "gemm: B out of bounds"
    );
    assert!(sc.max_index() < c.len(), "gemm: C out of bounds");
    // SAFETY: every index reached is checked above to be within its slice; C is a unique borrow.
    unsafe {
        T::gemm_raw(
            sc.rows,
            sa.cols,
            sc.cols,
            alpha,
            a.as_ptr(),
            sa.rs as isize,
            sa.cs as isize,
            b.as_ptr(),
            sb.rs as isize,
            sb.cs as isize,
            beta,
            c.as_mut_ptr(),
            sc.rs as isize,
            sc.cs as isize,
        )
    }
}
