//! eko's x-space interpolation, computed exactly: piecewise Lagrange polynomials on an x grid
//! (in ln x or in x), and the matrices that carry values from one grid to another.
//!
//! The grid `u_0 < ... < u_{n-1}` (u = ln x, or x) is cut into the n - 1 intervals
//! `(u_i, u_{i+1}]`. On interval i the interpolant is the Lagrange polynomial of degree d through
//! the d + 1 nodes `kmin..=kmax` of its block: `kmin = max(0, i - h)`, `kmax = kmin + d`, shifted
//! down to end at `n - 1` when it would pass it, with `h = d / 2`, one less for even d (the block
//! leans towards larger x). The first node belongs to interval 0; a point outside `[u_0,
//! u_{n-1}]` gets no weight at all (eko does not extrapolate). These are eko's rules
//! (`eko.interpolation.InterpolatorDispatcher`).
//!
//! eko evaluates each polynomial from monomial coefficients in u, which loses about 1e-9 (rows of
//! its matrices sum to 1 within about 2e-9 on a 50-point grid). Here each weight is the product
//! `Π_{q≠m} (u - u_q) / (u_m - u_q)`, accurate to a few units in the last place: at a node the
//! weights are exactly 1 and 0, and every row inside the grid sums to 1 within about 1e-15.

use crate::error::{Error, Result};
use crate::store::Interpolation;

/// A row-banded matrix: row `i` holds `weights[offsets[i]..offsets[i + 1]]` in columns
/// `start[i]..`. Rows may be empty (a point outside the grid).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Banded {
    pub rows: usize,
    pub cols: usize,
    pub start: Vec<usize>,
    pub offsets: Vec<usize>,
    pub weights: Vec<f64>,
}

impl Banded {
    /// Row `i`: its first column and its weights.
    pub fn row(&self, i: usize) -> (usize, &[f64]) {
        (
            self.start[i],
            &self.weights[self.offsets[i]..self.offsets[i + 1]],
        )
    }

    /// The transpose, still row-banded (a column of a Lagrange matrix is contiguous too: a
    /// basis function is nonzero on consecutive intervals only).
    pub fn transpose(&self) -> Banded {
        let mut cols: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.cols];
        for i in 0..self.rows {
            let (s, w) = self.row(i);
            for (m, v) in w.iter().enumerate() {
                cols[s + m].push((i, *v));
            }
        }
        let mut t = Banded {
            rows: self.cols,
            cols: self.rows,
            start: Vec::with_capacity(self.cols),
            offsets: vec![0],
            weights: Vec::new(),
        };
        for entries in cols {
            // Rows of the transpose span first..=last of the original rows that touch it;
            // any gap inside is an explicit zero.
            let first = entries.first().map_or(0, |e| e.0);
            let last = entries.last().map_or(0, |e| e.0);
            t.start.push(first);
            if !entries.is_empty() {
                let mut dense = vec![0.0; last - first + 1];
                for (i, v) in entries {
                    dense[i - first] = v;
                }
                t.weights.extend(dense);
            }
            t.offsets.push(t.weights.len());
        }
        t
    }

    /// The matrix as dense rows (for tests and the C ABI's matrix export).
    pub fn to_dense(&self) -> Vec<f64> {
        let mut d = vec![0.0; self.rows * self.cols];
        for i in 0..self.rows {
            let (s, w) = self.row(i);
            d[i * self.cols + s..i * self.cols + s + w.len()].copy_from_slice(w);
        }
        d
    }
}

/// eko's tolerance for a point on the first node (`10 * f64::EPSILON`, absolute, in u).
const FIRST_NODE_TOLERANCE: f64 = 10.0 * f64::EPSILON;

/// The interpolation matrix `R[i, j] = p_j(points[i])`, `p_j` the basis functions on `grid`:
/// values on `grid` times `R` give the interpolant at `points`. Both grids must be checked
/// (strictly increasing in (0, 1]); `grid` must have more than `degree` points (`what` names it
/// in the error).
pub(crate) fn interpolation_matrix(
    grid: &[f64],
    points: &[f64],
    interpolation: Interpolation,
    what: &str,
) -> Result<Banded> {
    let degree = interpolation.polynomial_degree as usize;
    let n = grid.len();
    if degree < 1 {
        return Err(Error::Transform {
            reason: "the interpolation's polynomial degree must be at least 1".into(),
        });
    }
    if n <= degree {
        return Err(Error::Transform {
            reason: format!(
                "interpolating with polynomials of degree {degree} needs at least {} x values; \
                 {what} has {n}",
                degree + 1
            ),
        });
    }
    let to_u = |x: f64| if interpolation.log { x.ln() } else { x };
    let u: Vec<f64> = grid.iter().map(|x| to_u(*x)).collect();
    // Two x values a few ulps apart can have the same ln x: a node twice, no polynomial.
    if let Some(k) = (1..n).find(|k| u[*k] <= u[*k - 1]) {
        return Err(Error::Transform {
            reason: format!(
                "{what} has x values {:e} and {:e} that coincide in ln x: interpolation needs \
                 distinct nodes",
                grid[k - 1],
                grid[k]
            ),
        });
    }
    let mut half = degree / 2;
    if degree.is_multiple_of(2) {
        half -= 1;
    }
    let block = |area: usize| {
        let mut kmin = area.saturating_sub(half);
        if kmin + degree >= n {
            kmin = n - 1 - degree;
        }
        kmin
    };
    let mut m = Banded {
        rows: points.len(),
        cols: n,
        start: Vec::with_capacity(points.len()),
        offsets: vec![0],
        weights: Vec::with_capacity(points.len() * (degree + 1)),
    };
    for x in points {
        let v = to_u(*x);
        // The interval (u_i, u_{i+1}] holding v; the first node belongs to interval 0.
        let area = if (v - u[0]).abs() < FIRST_NODE_TOLERANCE {
            Some(0)
        } else if v > u[0] && v <= u[n - 1] {
            // First node > v... the partition point gives the count of nodes < v.
            Some(u.partition_point(|q| *q < v) - 1)
        } else {
            None
        };
        match area {
            None => m.start.push(0),
            Some(area) => {
                let kmin = block(area);
                let nodes = &u[kmin..=kmin + degree];
                m.start.push(kmin);
                for (j, uj) in nodes.iter().enumerate() {
                    let mut w = 1.0;
                    for (q, uq) in nodes.iter().enumerate() {
                        if q != j {
                            w *= (v - uq) / (uj - uq);
                        }
                    }
                    m.weights.push(w);
                }
            }
        }
        m.offsets.push(m.weights.len());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(degree: u32) -> Interpolation {
        Interpolation {
            polynomial_degree: degree,
            log: true,
        }
    }

    fn geomspace(a: f64, b: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp())
            .collect()
    }

    #[test]
    fn nodes_map_to_themselves_exactly() {
        let g = geomspace(1e-7, 1.0, 30);
        for degree in 1..=5 {
            let m = interpolation_matrix(&g, &g, log(degree), "g").unwrap();
            let d = m.to_dense();
            for i in 0..30 {
                for j in 0..30 {
                    assert_eq!(d[i * 30 + j], if i == j { 1.0 } else { 0.0 }, "{degree} {i} {j}");
                }
            }
        }
    }

    #[test]
    fn polynomials_of_the_degree_are_reproduced() {
        // In ln x, a polynomial of degree d in u is interpolated exactly.
        let g = geomspace(1e-5, 1.0, 20);
        let pts = geomspace(1e-5, 1.0, 57);
        let m = interpolation_matrix(&g, &pts, log(3), "g").unwrap();
        let f = |x: f64| {
            let u = x.ln();
            1.0 + 0.5 * u - 0.25 * u * u + 0.01 * u * u * u
        };
        for (i, x) in pts.iter().enumerate() {
            let (s, w) = m.row(i);
            let got: f64 = w.iter().enumerate().map(|(k, w)| w * f(g[s + k])).sum();
            assert!((got - f(*x)).abs() < 1e-11 * f(*x).abs().max(1.0), "{x}");
            let sum: f64 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn blocks_follow_ekos_rule_and_outside_points_get_nothing() {
        let g: Vec<f64> = (1..=6).map(|i| i as f64 / 6.0).collect();
        let lin = Interpolation {
            polynomial_degree: 2,
            log: false,
        };
        // degree 2: h = 0, blocks start at the interval's left node, shifted down at the end.
        let m = interpolation_matrix(&g, &[0.2, 0.5, 0.95, 0.1, 1.0], lin, "g").unwrap();
        assert_eq!(m.start, vec![0, 1, 3, 0, 3]);
        assert_eq!(m.row(3).1.len(), 0, "below the grid: no weight");
        assert_eq!(m.row(4).1, &[0.0, 0.0, 1.0]);
        let e = interpolation_matrix(&g[..2], &[0.2], lin, "the new grid").unwrap_err();
        assert!(e.to_string().contains("needs at least 3 x values; the new grid has 2"));
        let t = m.transpose();
        assert_eq!(t.rows, 6);
        let (d, dt) = (m.to_dense(), t.to_dense());
        for i in 0..5 {
            for j in 0..6 {
                assert_eq!(d[i * 6 + j], dt[j * 5 + i]);
            }
        }
    }
}
