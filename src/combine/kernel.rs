//! The matrix products of combine: `out = left · right` on flattened operators, with first-order
//! errors, into a separate destination or in place over the left factor.
//!
//! An operator `[pid_out, x_out, pid_in, x_in]` flattens to an N x N matrix (N = n_pid · n_x), and
//! the product of two operators is `einsum('aibj,bjck->aick')`. Real operators are structured:
//! x-space operators are near upper-triangular in (x_out, x_in) (an output at x only depends on
//! inputs at y >= x, up to the interpolation degree), heavy flavours not yet active are identity
//! blocks, the photon row and column are zero. The kernel finds that structure instead of
//! assuming it:
//!
//! - the right factor is stored once with both indices in x-major order, `[x_in, pid_in, x_out,
//!   pid_out]` flattened, and for each x row and each tile of output columns it records whether the
//!   block is all zero ([`Factor`]);
//! - the left factor is processed in row blocks of a few x values (all pids): a block is gathered
//!   into scratch with its columns in the same x-major order, noting which x columns hold a nonzero;
//! - each output tile is then a short sum of dense products (faer) over the contiguous runs of x
//!   where both factors are nonzero.
//!
//! Dense operators cost what a plain product costs; triangular ones about a third. Skipping is
//! exact: it is switched off when either factor holds a NaN or an infinity (so that `0 · inf`
//! gives NaN as in a plain product).
//!
//! Each row block of the product depends only on the same rows of the left factor, so the result
//! may overwrite the left factor ([`Target::InPlace`]): the scratch is a few row blocks per thread,
//! whatever the number of points.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayView4, ArrayViewMut2, ArrayViewMut4, Axis};

use crate::error::{Error, Result};

/// Row and column tiles aim at this many matrix rows (x values times pids): big enough for the
/// dense products to run near peak, small enough to follow triangular structure.
const TILE_TARGET: usize = 224;

/// How products are computed: thread count and tile sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    threads: usize,
    tile: Option<usize>,
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::new(1)
    }
}

impl Kernel {
    /// A kernel running on `threads` threads (at least one).
    pub fn new(threads: usize) -> Self {
        Kernel {
            threads: threads.max(1),
            tile: None,
        }
    }

    /// A kernel using as many threads as the machine offers.
    pub fn all_threads() -> Self {
        Kernel::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Sets the tile size in x values (default: about 224 matrix rows, that is 16 x values for 14
    /// pids, measured best at 14 x 100).
    pub fn with_tile(mut self, x_values: usize) -> Self {
        self.tile = Some(x_values.max(1));
        self
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn tile_x(&self, n_pid: usize) -> usize {
        self.tile
            .unwrap_or_else(|| TILE_TARGET.div_ceil(n_pid.max(1)))
            .max(1)
    }

    /// Prepares `op` as the right factor of products.
    pub fn factor(&self, op: ArrayView4<'_, f64>) -> Factor {
        Factor::new(op, self.tile_x(op.shape()[0]), |v| v)
    }

    /// Prepares `|op|` (elementwise absolute values) as the right factor of products.
    pub fn abs_factor(&self, op: ArrayView4<'_, f64>) -> Factor {
        Factor::new(op, self.tile_x(op.shape()[0]), f64::abs)
    }

    /// `out = left · right`, where `target` says where `left` is and where `out` goes (possibly
    /// over `left`).
    pub fn multiply(&self, target: Target<'_>, right: &Factor) -> Result<()> {
        self.run(target, false, right, &[])
    }

    /// `out = |left| · right + Σ |more_left| · more_right`, absolute values taken elementwise on
    /// the left factors: the terms of first-order error propagation. The extra left factors are
    /// read, never written; with [`Target::InPlace`] the result overwrites the first left factor.
    pub fn multiply_abs_sum(
        &self,
        target: Target<'_>,
        right: &Factor,
        more: &[(ArrayView4<'_, f64>, &Factor)],
    ) -> Result<()> {
        self.run(target, true, right, more)
    }

    fn run(
        &self,
        target: Target<'_>,
        abs: bool,
        right: &Factor,
        more: &[(ArrayView4<'_, f64>, &Factor)],
    ) -> Result<()> {
        let n = right.n;
        let shape = [n.0, n.1, n.0, n.1];
        let mut shapes = target.shapes();
        for (i, (l, r)) in more.iter().enumerate() {
            shapes.push((l.shape(), format!("extra left factor {i}")));
            let rs = [r.n.0, r.n.1, r.n.0, r.n.1];
            shapes.push((
                if rs == shape { &shape[..] } else { &[] },
                format!("extra right factor {i}"),
            ));
        }
        for (found, role) in shapes {
            if found != shape {
                return Err(Error::InvalidArgument {
                    reason: format!("{role} has shape {found:?}, the product needs {shape:?}"),
                });
            }
        }
        let tasks: Vec<Mutex<Option<Block<'_>>>> = target
            .into_blocks(right.tile_x)
            .into_iter()
            .map(|b| Mutex::new(Some(b)))
            .collect();
        let next = AtomicUsize::new(0);
        // Row blocks in order: with triangular operators the first are the heaviest, so workers
        // taking them in order end together.
        let work = || {
            let mut scratch = Scratch::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                let taken = task.lock().map(|mut t| t.take()).unwrap_or(None);
                if let Some(block) = taken {
                    scratch.run(block, abs, right, more);
                }
            }
        };
        let threads = self.threads.min(tasks.len()).max(1);
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        Ok(())
    }
}

/// Where a product's left factor is read and its result written.
#[derive(Debug)]
pub enum Target<'a> {
    /// Read `left`, write `out` (distinct memory of the same shape).
    Separate {
        /// The left factor.
        left: ArrayView4<'a, f64>,
        /// The destination.
        out: ArrayViewMut4<'a, f64>,
    },
    /// Read the left factor and overwrite it with the product.
    InPlace(ArrayViewMut4<'a, f64>),
}

impl<'a> Target<'a> {
    fn shapes(&self) -> Vec<(&[usize], String)> {
        match self {
            Target::Separate { left, out } => vec![
                (left.shape(), "left factor".into()),
                (out.shape(), "destination".into()),
            ],
            Target::InPlace(m) => vec![(m.shape(), "buffer".into())],
        }
    }

    fn into_blocks(self, tile: usize) -> Vec<Block<'a>> {
        let mut blocks = Vec::new();
        let mut start = 0;
        match self {
            Target::Separate { mut left, mut out } => {
                while out.shape()[1] > 0 {
                    let at = tile.min(out.shape()[1]);
                    let (l, l_rest) = left.split_at(Axis(1), at);
                    let (o, o_rest) = out.split_at(Axis(1), at);
                    blocks.push(Block {
                        rows: start,
                        left: Some(l),
                        out: o,
                    });
                    start += at;
                    (left, out) = (l_rest, o_rest);
                }
            }
            Target::InPlace(mut out) => {
                while out.shape()[1] > 0 {
                    let at = tile.min(out.shape()[1]);
                    let (o, rest) = out.split_at(Axis(1), at);
                    blocks.push(Block {
                        rows: start,
                        left: None,
                        out: o,
                    });
                    start += at;
                    out = rest;
                }
            }
        }
        blocks
    }
}

/// One row block: every pid, a few x values.
struct Block<'a> {
    /// The first x row.
    rows: usize,
    /// The left factor's rows, or `None` to read them from `out` (in place).
    left: Option<ArrayView4<'a, f64>>,
    out: ArrayViewMut4<'a, f64>,
}

/// An operator prepared as a right factor: x-major copy and zero-block map.
#[derive(Debug)]
pub struct Factor {
    /// (n_pid, n_x).
    n: (usize, usize),
    /// Tile width in x values.
    tile_x: usize,
    /// `[x_in(k), pid_in(b), x_out(j), pid_out(c)]` of the operator `[b, k, c, j]`, row-major.
    data: Vec<f64>,
    /// `nonzero[k * n_tiles + t]`: x row `k` has a nonzero in column tile `t`.
    nonzero: Vec<bool>,
    /// A NaN or infinity somewhere: no skipping.
    dense: bool,
}

impl Factor {
    fn new(op: ArrayView4<'_, f64>, tile_x: usize, map: impl Fn(f64) -> f64) -> Self {
        let (np, nx) = (op.shape()[0], op.shape()[1]);
        let n = np * nx;
        let n_tiles = nx.div_ceil(tile_x);
        let mut data = vec![0.0; n * n];
        let mut nonzero = vec![false; nx * n_tiles];
        let mut finite = true;
        for b in 0..np {
            for k in 0..nx {
                let src = op.index_axis(Axis(0), b);
                let src = src.index_axis(Axis(0), k);
                let row = &mut data[(k * np + b) * n..][..n];
                for c in 0..np {
                    for (j, &v) in src.row(c).iter().enumerate() {
                        let v = map(v);
                        row[j * np + c] = v;
                        finite &= v.is_finite();
                        if v != 0.0 {
                            nonzero[k * n_tiles + j / tile_x] = true;
                        }
                    }
                }
            }
        }
        if !finite {
            nonzero.fill(true);
        }
        Factor {
            n: (np, nx),
            tile_x,
            data,
            nonzero,
            dense: !finite,
        }
    }

    fn n_tiles(&self) -> usize {
        self.n.1.div_ceil(self.tile_x)
    }
}

/// Per-worker buffers, grown to the first row block and reused.
#[derive(Default)]
struct Scratch {
    left: Vec<f64>,
    left_nonzero: Vec<bool>,
    out: Vec<f64>,
}

impl Scratch {
    fn run(
        &mut self,
        mut block: Block<'_>,
        abs: bool,
        right: &Factor,
        more: &[(ArrayView4<'_, f64>, &Factor)],
    ) {
        let (np, nx) = right.n;
        let n = np * nx;
        let (r0, count) = (block.rows, block.out.shape()[1]);
        let rows = np * count;
        self.left.resize(rows * n, 0.0);
        self.out.resize(rows * n, 0.0);
        let map = |v: f64| if abs { v.abs() } else { v };
        // The first term is gathered before anything is written: in place, its source is the
        // destination.
        let finite = match &block.left {
            Some(l) => gather(l.view(), &mut self.left, &mut self.left_nonzero, map),
            None => gather(
                block.out.view(),
                &mut self.left,
                &mut self.left_nonzero,
                map,
            ),
        };
        product(
            &self.left,
            &self.left_nonzero,
            !finite,
            right,
            &mut self.out,
            rows,
            false,
        );
        for (left, factor) in more {
            let left = left.slice(ndarray::s![.., r0..r0 + count, .., ..]);
            let finite = gather(left, &mut self.left, &mut self.left_nonzero, f64::abs);
            product(
                &self.left,
                &self.left_nonzero,
                !finite,
                factor,
                &mut self.out,
                rows,
                true,
            );
        }
        scatter(&self.out, block.out.view_mut(), np);
    }
}

/// Copies a row block `[a, i, b, k]` into `dst` as rows `(a, i)`, columns `(k, b)`, applying
/// `map`; marks the x columns `k` holding a nonzero. Returns whether every value is finite.
fn gather(
    src: ArrayView4<'_, f64>,
    dst: &mut [f64],
    nonzero: &mut Vec<bool>,
    map: impl Fn(f64) -> f64,
) -> bool {
    let (np, rx, nx) = (src.shape()[0], src.shape()[1], src.shape()[3]);
    let n = np * nx;
    nonzero.clear();
    nonzero.resize(nx, false);
    let mut finite = true;
    for a in 0..np {
        for i in 0..rx {
            let row: ArrayView2<'_, f64> = src.slice(ndarray::s![a, i, .., ..]);
            let out = &mut dst[(a * rx + i) * n..][..n];
            for b in 0..np {
                for (k, &v) in row.row(b).iter().enumerate() {
                    let v = map(v);
                    out[k * np + b] = v;
                    finite &= v.is_finite();
                    nonzero[k] |= v != 0.0;
                }
            }
        }
    }
    finite
}

/// Writes rows `(a, i)`, columns `(j, c)` of `src` into the block `[a, i, c, j]`.
fn scatter(src: &[f64], mut dst: ArrayViewMut4<'_, f64>, np: usize) {
    let (rx, nx) = (dst.shape()[1], dst.shape()[3]);
    let n = np * nx;
    for a in 0..np {
        for i in 0..rx {
            let mut row: ArrayViewMut2<'_, f64> = dst.slice_mut(ndarray::s![a, i, .., ..]);
            let from = &src[(a * rx + i) * n..][..n];
            for c in 0..np {
                for (j, d) in row.row_mut(c).iter_mut().enumerate() {
                    *d = from[j * np + c];
                }
            }
        }
    }
}

/// `out (+)= left · right` for a gathered row block (`rows` x N), tile by tile over the runs of x
/// where both factors are nonzero.
fn product(
    left: &[f64],
    left_nonzero: &[bool],
    dense: bool,
    right: &Factor,
    out: &mut [f64],
    rows: usize,
    accumulate: bool,
) {
    let (np, nx) = right.n;
    let n = np * nx;
    let n_tiles = right.n_tiles();
    let dense = dense || right.dense;
    let lhs = MatRef::from_row_major_slice(&left[..rows * n], rows, n);
    let rhs = MatRef::from_row_major_slice(&right.data, n, n);
    let mut dst = MatMut::from_row_major_slice_mut(&mut out[..rows * n], rows, n);
    for t in 0..n_tiles {
        let j0 = t * right.tile_x;
        let j1 = (j0 + right.tile_x).min(nx);
        let cols = (j0 * np, (j1 - j0) * np);
        let mut written = accumulate;
        let mut k = 0;
        while k < nx {
            let live = |k: usize| dense || (left_nonzero[k] && right.nonzero[k * n_tiles + t]);
            if !live(k) {
                k += 1;
                continue;
            }
            let start = k;
            while k < nx && live(k) {
                k += 1;
            }
            let (k0, len) = (start * np, (k - start) * np);
            faer::linalg::matmul::matmul(
                dst.as_mut().subcols_mut(cols.0, cols.1),
                if written { Accum::Add } else { Accum::Replace },
                lhs.subcols(k0, len),
                rhs.submatrix(k0, cols.0, len, cols.1),
                1.0,
                Par::Seq,
            );
            written = true;
        }
        if !written {
            dst.as_mut().subcols_mut(cols.0, cols.1).fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array4};

    fn dense_product(a: &Array4<f64>, b: &Array4<f64>) -> Array4<f64> {
        let s = a.shape().to_vec();
        let n = s[0] * s[1];
        let a2 = a.to_shape((n, n)).unwrap().to_owned();
        let b2 = b.to_shape((n, n)).unwrap().to_owned();
        let c: Array2<f64> = a2.dot(&b2);
        c.into_shape_with_order((s[0], s[1], s[2], s[3])).unwrap()
    }

    fn structured(np: usize, nx: usize, seed: u64, band: usize, zero_pid: bool) -> Array4<f64> {
        let mut state = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        Array4::from_shape_fn((np, nx, np, nx), |(a, i, b, k)| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            if (zero_pid && (a == 0 || b == 0)) || k + band < i {
                0.0
            } else {
                v
            }
        })
    }

    fn max_rel(a: &Array4<f64>, b: &Array4<f64>) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    #[test]
    fn matches_a_dense_product_for_every_structure_tile_and_thread_count() {
        for (np, nx) in [(3, 7), (4, 13), (14, 10)] {
            for (band, zero_pid) in [(usize::MAX / 2, false), (0, false), (2, true)] {
                let a = structured(np, nx, 1, band, zero_pid);
                let b = structured(np, nx, 2, band, zero_pid);
                let expect = dense_product(&a, &b);
                for tile in [1, 3, 5, 100] {
                    for threads in [1, 2, 3] {
                        let kernel = Kernel::new(threads).with_tile(tile);
                        let right = kernel.factor(b.view());
                        let mut out = Array4::from_elem(a.raw_dim(), f64::NAN);
                        kernel
                            .multiply(
                                Target::Separate {
                                    left: a.view(),
                                    out: out.view_mut(),
                                },
                                &right,
                            )
                            .unwrap();
                        assert!(max_rel(&out, &expect) < 1e-13, "{np} {nx} {band} {tile}");
                        let mut inplace = a.clone();
                        kernel
                            .multiply(Target::InPlace(inplace.view_mut()), &right)
                            .unwrap();
                        assert_eq!(inplace, out);
                    }
                }
            }
        }
    }

    #[test]
    fn absolute_sums_give_first_order_errors_in_place() {
        let (np, nx) = (5, 9);
        let a = structured(np, nx, 3, 1, true);
        let ea = structured(np, nx, 4, 1, true).mapv(|v| v * 1e-3);
        let b = structured(np, nx, 5, 1, false);
        let eb = structured(np, nx, 6, 1, false).mapv(|v| v * 1e-4);
        let expect = dense_product(&a.mapv(f64::abs), &eb.mapv(f64::abs))
            + dense_product(&ea.mapv(f64::abs), &b.mapv(f64::abs));
        let kernel = Kernel::new(2).with_tile(2);
        let (abs_b, abs_eb) = (kernel.abs_factor(b.view()), kernel.abs_factor(eb.view()));
        let mut e = ea.clone();
        kernel
            .multiply_abs_sum(
                Target::InPlace(e.view_mut()),
                &abs_b,
                &[(a.view(), &abs_eb)],
            )
            .unwrap();
        assert!(max_rel(&e, &expect) < 1e-13);
    }

    #[test]
    fn non_finite_values_propagate_as_in_a_plain_product() {
        let (np, nx) = (2, 4);
        let mut a = Array4::<f64>::zeros((np, nx, np, nx));
        a[[0, 0, 0, 0]] = 1.0;
        let mut b = Array4::<f64>::zeros((np, nx, np, nx));
        b[[1, 3, 1, 3]] = f64::INFINITY;
        let kernel = Kernel::new(1);
        let right = kernel.factor(b.view());
        kernel
            .multiply(Target::InPlace(a.view_mut()), &right)
            .unwrap();
        // Row (0,0) has zeros against column (1,3)'s infinity: 0 * inf = NaN.
        assert!(a[[0, 0, 1, 3]].is_nan());
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let kernel = Kernel::new(1);
        let b = Array4::<f64>::zeros((2, 3, 2, 3));
        let right = kernel.factor(b.view());
        let mut a = Array4::<f64>::zeros((2, 4, 2, 4));
        assert!(matches!(
            kernel.multiply(Target::InPlace(a.view_mut()), &right),
            Err(Error::InvalidArgument { .. })
        ));
        let mut a = Array4::<f64>::zeros((2, 3, 2, 3));
        let small = Array4::<f64>::zeros((2, 2, 2, 2));
        let err = kernel
            .multiply_abs_sum(
                Target::InPlace(a.view_mut()),
                &right,
                &[(small.view(), &right)],
            )
            .unwrap_err();
        assert!(err.to_string().contains("extra left factor 0"), "{err}");
    }
}
