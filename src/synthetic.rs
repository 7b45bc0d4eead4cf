//! Deterministic synthetic operators with the structure real EKOs have, for examples, benchmarks,
//! tests and the demo: no physics, but the shapes and sparsity of eko's output.
//!
//! - the photon (pid 22) row and column are zero (pure QCD);
//! - flavours active in the patch (the gluon and quarks with |pid| <= nf) mix densely;
//! - heavy flavours not yet active evolve with the identity and do not mix;
//! - each (pid, pid) block is upper triangular in (x_out, x_in) up to a small band (an output at
//!   x depends on inputs at y >= x, up to the interpolation degree);
//! - operators are the identity plus a perturbation that grows with the length of the segment in
//!   ln μ², so they are well conditioned.
//!
//! Values depend only on the seed, the edge (or point) and the grid, never on the order of calls
//! or the process: independent producers generate identical operators.

use ndarray::Array4;

use crate::grid::Task;
use crate::store::{Edge, Matching, Segment};

/// Lower bandwidth of the x-space blocks (interpolation degree).
pub const BAND: usize = 2;

/// A generator of synthetic operators for one grid.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Flavour basis.
    pub pids: Vec<i32>,
    /// Number of x points.
    pub n_x: usize,
    /// Seed mixed into every value.
    pub seed: u64,
}

/// An operator and its error.
#[derive(Debug, Clone)]
pub struct SyntheticOperator {
    /// The operator `[pid_out, x_out, pid_in, x_in]`.
    pub operator: Array4<f64>,
    /// Its integration error.
    pub error: Array4<f64>,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string: a stable per-edge seed.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Synthetic {
    /// A generator for `pids` and `n_x` x points.
    pub fn new(pids: Vec<i32>, n_x: usize, seed: u64) -> Self {
        Synthetic { pids, n_x, seed }
    }

    /// The operator a grid manager's task asks for: a threshold edge, or a partial's segment.
    pub fn task(&self, task: &Task) -> SyntheticOperator {
        match task {
            Task::Threshold(edge) => self.edge(edge),
            Task::Partial { segment, .. } => self.segment(segment),
        }
    }

    /// The operator of an edge (segment or matching).
    pub fn edge(&self, edge: &Edge) -> SyntheticOperator {
        match edge {
            Edge::Segment(s) => self.segment(s),
            Edge::Matching(m) => self.matching(m),
        }
    }

    /// An evolution segment: active flavours mix, more for longer segments.
    pub fn segment(&self, s: &Segment) -> SyntheticOperator {
        let length = (s.target / s.origin).ln().abs();
        let strength = 0.01 + 0.04 * length.min(10.0);
        self.build(&Edge::Segment(*s).key(), s.nf, strength)
    }

    /// A matching: a small mixing among the flavours active after the threshold (before it, for
    /// an inverse matching).
    pub fn matching(&self, m: &Matching) -> SyntheticOperator {
        let sign = if m.is_inverse() { -1.0 } else { 1.0 };
        self.build(
            &Edge::Matching(*m).key(),
            m.from_nf.max(m.to_nf),
            sign * 0.02,
        )
    }

    fn build(&self, key: &str, nf: u8, strength: f64) -> SyntheticOperator {
        let (np, nx) = (self.pids.len(), self.n_x);
        let base = splitmix(self.seed ^ fnv(key));
        let active: Vec<Option<bool>> = self
            .pids
            .iter()
            .map(|&p| match p {
                22 => None,
                21 => Some(true),
                q => Some(q.unsigned_abs() <= u32::from(nf)),
            })
            .collect();
        let mut operator = Array4::zeros((np, nx, np, nx));
        let mut error = Array4::zeros((np, nx, np, nx));
        for a in 0..np {
            for b in 0..np {
                let dense = match (active[a], active[b]) {
                    (Some(true), Some(true)) => true,
                    (Some(false), Some(false)) if a == b => false,
                    _ => continue,
                };
                for i in 0..nx {
                    for k in i.saturating_sub(BAND)..nx {
                        let identity = if a == b && i == k { 1.0 } else { 0.0 };
                        if !dense {
                            operator[[a, i, b, k]] = identity;
                            continue;
                        }
                        let h = splitmix(base ^ ((((a * np + b) * nx + i) * nx + k) as u64));
                        let u = (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        let decay = 1.0 / (1.0 + (k as f64 - i as f64).abs());
                        let v = identity + strength * u * decay;
                        operator[[a, i, b, k]] = v;
                        error[[a, i, b, k]] = v.abs() * 1e-7 * (1.0 + u);
                    }
                }
            }
        }
        SyntheticOperator { operator, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FLAVOR_BASIS;

    #[test]
    fn structure_and_determinism() {
        let g = Synthetic::new(FLAVOR_BASIS.to_vec(), 8, 7);
        let s = Segment {
            origin: 2.0,
            target: 100.0,
            nf: 4,
        };
        let op = g.segment(&s);
        assert_eq!(op.operator, g.segment(&s).operator);
        // Photon row and column zero.
        assert!(
            op.operator
                .slice(ndarray::s![0, .., .., ..])
                .iter()
                .all(|v| *v == 0.0)
        );
        assert!(
            op.operator
                .slice(ndarray::s![.., .., 0, ..])
                .iter()
                .all(|v| *v == 0.0)
        );
        // Bottom (pid 5, index 12) inactive at nf=4: identity block, no mixing.
        let b = 12;
        for i in 0..8 {
            for k in 0..8 {
                assert_eq!(op.operator[[b, i, b, k]], if i == k { 1.0 } else { 0.0 });
            }
        }
        assert!(
            op.operator
                .slice(ndarray::s![b, .., 7, ..])
                .iter()
                .all(|v| *v == 0.0)
        );
        // Gluon-gluon block: triangular up to the band, nonzero above.
        assert_eq!(op.operator[[7, 5, 7, 5 - BAND - 1]], 0.0);
        assert_ne!(op.operator[[7, 5, 7, 5 - BAND]], 0.0);
        assert_ne!(op.operator[[7, 0, 8, 7]], 0.0);
    }
}
