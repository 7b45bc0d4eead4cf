//! Flavour rotations: eko's evolution basis, and small dense matrices (inverse, checks).

use crate::error::{Error, Result};
use crate::store::{EVOLUTION_BASIS, FLAVOR_BASIS};

/// A dense square matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Square {
    pub n: usize,
    pub values: Vec<f64>,
}

impl Square {
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }

    /// The inverse, by Gauss-Jordan elimination with partial pivoting; `None` when the matrix
    /// is singular (a pivot below `n · ε` times the largest entry) or not finite.
    pub fn inverse(&self) -> Option<Square> {
        let n = self.n;
        let scale = self.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !scale.is_finite() || scale == 0.0 {
            return None;
        }
        let mut a = self.values.clone();
        let mut inv = identity(n).values;
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|x, y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))
                .expect("n > 0");
            if a[pivot * n + col].abs() <= n as f64 * f64::EPSILON * scale {
                return None;
            }
            if pivot != col {
                for k in 0..n {
                    a.swap(pivot * n + k, col * n + k);
                    inv.swap(pivot * n + k, col * n + k);
                }
            }
            let p = a[col * n + col];
            for k in 0..n {
                a[col * n + k] /= p;
                inv[col * n + k] /= p;
            }
            for row in 0..n {
                let f = a[row * n + col];
                if row != col && f != 0.0 {
                    for k in 0..n {
                        a[row * n + k] -= f * a[col * n + k];
                        inv[row * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
        Some(Square { n, values: inv })
    }
}

/// The n x n identity.
pub(crate) fn identity(n: usize) -> Square {
    let mut values = vec![0.0; n * n];
    for i in 0..n {
        values[i * n + i] = 1.0;
    }
    Square { n, values }
}

/// The rotation from eko's flavour basis ([`FLAVOR_BASIS`]) to the evolution basis
/// ([`EVOLUTION_BASIS`]), row-major `[evolution pid, flavour pid]`: an evolution-basis PDF is
/// this matrix times the flavour-basis PDF. With `q± = q ± q̄` for each quark (d, u, s, c, b, t
/// are pids 1 .. 6):
///
/// - photon and gluon map to themselves;
/// - `Σ = Σ_q q+` (100) and `V = Σ_q q-` (200);
/// - `T3 = u+ - d+` (103) and `V3 = u- - d-` (203);
/// - for the k-th quark, k = 3 .. 6 (s, c, b, t): `T_{k²-1} = Σ_{q<k} q+ - (k - 1) q_k+`
///   (108, 115, 124, 135) and the same with `q-` for `V_{k²-1}` (208, 215, 224, 235).
///
/// This is the matrix of `eko.basis_rotation.rotate_flavor_to_evolution`.
pub fn evolution_rotation() -> [[f64; 14]; 14] {
    let column = |pid: i32| {
        FLAVOR_BASIS
            .iter()
            .position(|p| *p == pid)
            .expect("a flavour pid")
    };
    let mut m = [[0.0; 14]; 14];
    // q± of quark q: +1 on q, ±1 on q̄.
    let add_quark = |row: &mut [f64; 14], q: i32, factor: f64, plus: bool| {
        row[column(q)] += factor;
        row[column(-q)] += if plus { factor } else { -factor };
    };
    for (r, pid) in EVOLUTION_BASIS.iter().enumerate() {
        let row = &mut m[r];
        match *pid {
            22 | 21 => row[column(*pid)] = 1.0,
            100 | 200 => {
                for q in 1..=6 {
                    add_quark(row, q, 1.0, *pid == 100);
                }
            }
            103 | 203 => {
                add_quark(row, 2, 1.0, *pid == 103);
                add_quark(row, 1, -1.0, *pid == 103);
            }
            _ => {
                // 108 .. 135 and 208 .. 235: n = k² - 1.
                let plus = *pid < 200;
                let n = pid % 100;
                let k = (1..=6).find(|k| k * k - 1 == n).expect("an evolution pid");
                for q in 1..k {
                    add_quark(row, q, 1.0, plus);
                }
                add_quark(row, k, -f64::from(k - 1), plus);
            }
        }
    }
    m
}

/// [`evolution_rotation`] as a [`Square`].
pub(crate) fn evolution_square() -> Square {
    Square {
        n: 14,
        values: evolution_rotation().iter().flatten().copied().collect(),
    }
}

/// Checks a caller's rotation: `n x n` for a side of `n` pids, finite, invertible. Returns it and
/// its inverse. `side` names it in errors.
pub(crate) fn check_rotation(values: &[f64], n: usize, side: &str) -> Result<(Square, Square)> {
    if values.len() != n * n {
        return Err(Error::Transform {
            reason: format!(
                "the {side} rotation has {} entries; a side of {n} pids needs a {n} x {n} \
                 matrix ({} entries)",
                values.len(),
                n * n
            ),
        });
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::Transform {
            reason: format!("the {side} rotation has a non-finite entry ({v})"),
        });
    }
    let m = Square {
        n,
        values: values.to_vec(),
    };
    let inv = m.inverse().ok_or_else(|| Error::Transform {
        reason: format!(
            "the {side} rotation is singular (not invertible): a rotation must map one basis \
             onto another"
        ),
    })?;
    Ok((m, inv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evolution_rows_follow_the_definitions() {
        let m = evolution_rotation();
        let col = |pid: i32| FLAVOR_BASIS.iter().position(|p| *p == pid).unwrap();
        // T3 = u + ubar - d - dbar; V8 = u - ubar + d - dbar - 2 (s - sbar).
        let t3 = m[9];
        assert_eq!((t3[col(2)], t3[col(-2)], t3[col(1)], t3[col(-1)]), (1.0, 1.0, -1.0, -1.0));
        assert_eq!(t3.iter().map(|v| v.abs()).sum::<f64>(), 4.0);
        let v8 = m[5];
        assert_eq!((v8[col(3)], v8[col(-3)], v8[col(1)], v8[col(-2)]), (-2.0, 2.0, 1.0, -1.0));
        // T35 = Σ_{q<t} q+ - 5 t+.
        assert_eq!(m[13][col(6)], -5.0);
        assert_eq!(m[13][col(-5)], 1.0);
        assert_eq!(m[0][col(22)], 1.0);
        assert_eq!(m[2][col(21)], 1.0);
    }

    #[test]
    fn inverse_round_trips() {
        let e = evolution_square();
        let inv = e.inverse().unwrap();
        for i in 0..14 {
            for j in 0..14 {
                let s: f64 = (0..14).map(|k| e.get(i, k) * inv.get(k, j)).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-15, "{i} {j} {s}");
            }
        }
        let singular = [1.0, 2.0, 2.0, 4.0];
        let e = check_rotation(&singular, 2, "input").unwrap_err().to_string();
        assert!(e.contains("input rotation is singular"), "{e}");
        let e = check_rotation(&[1.0; 3], 2, "output").unwrap_err().to_string();
        assert!(e.contains("needs a 2 x 2 matrix (4 entries)"), "{e}");
    }
}
