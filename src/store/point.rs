//! Evolution points and the file names derived from them.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An evolution point: a scale μ² (GeV²) and the number of active flavours nf.
///
/// The same μ² may appear with two nf values (below and above a matching scale), so a point is
/// the pair. Points are ordered by μ², then nf. μ² must be finite and positive, nf at most 6.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct EvolutionPoint {
    /// The scale μ² in GeV² (Q² for a target point).
    pub mu2: f64,
    /// Number of active flavours.
    pub nf: u8,
}

impl EvolutionPoint {
    /// A validated point.
    pub fn new(mu2: f64, nf: u8) -> Result<Self> {
        let reason = if !mu2.is_finite() {
            "mu2 is not a finite number"
        } else if mu2 <= 0.0 {
            "mu2 is not positive"
        } else if nf > 6 {
            "nf is larger than 6"
        } else {
            return Ok(EvolutionPoint { mu2, nf });
        };
        Err(Error::InvalidPoint { mu2, nf, reason })
    }

    /// Checks a point built field by field (for example, deserialized).
    pub fn validate(self) -> Result<Self> {
        Self::new(self.mu2, self.nf)
    }

    /// The stem of this point's file names: `{mu2}_nf{nf}`, with μ² in the shortest decimal form
    /// that parses back to the same `f64` (exponent form below 1e-4 and from 1e16 on).
    ///
    /// Examples: `10000_nf5`, `2.7224999999999997_nf4`, `1e16_nf6`, `0.00001_nf3` is written
    /// `1e-5_nf3`.
    pub fn stem(&self) -> String {
        format!("{}_nf{}", mu2_text(self.mu2), self.nf)
    }

    /// The point whose [`stem`](Self::stem) is `stem`, if `stem` is exactly a canonical stem.
    pub fn from_stem(stem: &str) -> Option<Self> {
        let (mu2, nf) = stem.rsplit_once("_nf")?;
        if !nf.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let point = EvolutionPoint::new(mu2.parse().ok()?, nf.parse().ok()?).ok()?;
        (point.stem() == stem).then_some(point)
    }
}

/// μ² as written in file and member names: the shortest decimal form that parses back to the same
/// `f64`, in exponent form below 1e-4 and from 1e16 on.
pub(crate) fn mu2_text(mu2: f64) -> String {
    if (1e-4..1e16).contains(&mu2) {
        format!("{mu2}")
    } else {
        format!("{mu2:e}")
    }
}

/// The μ² written `text` by [`mu2_text`], if `text` is exactly its canonical form.
pub(crate) fn parse_mu2(text: &str) -> Option<f64> {
    let mu2: f64 = text.parse().ok()?;
    (mu2.is_finite() && mu2 > 0.0 && mu2_text(mu2) == text).then_some(mu2)
}

impl PartialEq for EvolutionPoint {
    fn eq(&self, other: &Self) -> bool {
        self.mu2.to_bits() == other.mu2.to_bits() && self.nf == other.nf
    }
}
impl Eq for EvolutionPoint {}

impl std::hash::Hash for EvolutionPoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.mu2.to_bits().hash(state);
        self.nf.hash(state);
    }
}

impl PartialOrd for EvolutionPoint {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EvolutionPoint {
    fn cmp(&self, other: &Self) -> Ordering {
        self.mu2.total_cmp(&other.mu2).then(self.nf.cmp(&other.nf))
    }
}

impl fmt::Display for EvolutionPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(mu2={}, nf={})", self.mu2, self.nf)
    }
}

impl std::str::FromStr for EvolutionPoint {
    type Err = Error;
    /// Parses `MU2:NF` (as the command line takes points), for example `10000:5`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidArgument {
            reason: format!("{s:?} is not an evolution point: {why}"),
        };
        let (mu2, nf) = s
            .split_once(':')
            .ok_or_else(|| bad("expected MU2:NF, for example 10000:5"))?;
        let mu2: f64 = mu2.trim().parse().map_err(|_| bad("mu2 is not a number"))?;
        let nf: u8 = nf
            .trim()
            .parse()
            .map_err(|_| bad("nf is not a small non-negative integer"))?;
        EvolutionPoint::new(mu2, nf)
    }
}

/// The files a store keeps per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// The final operator, `{stem}.npy`.
    Operator,
    /// Its integration error, `{stem}.error.npy`.
    OperatorError,
    /// The partial operator (last evolution segment), `{stem}.part.npy`.
    Partial,
    /// Its error, `{stem}.part.error.npy`.
    PartialError,
}

impl FileKind {
    /// All kinds, each main kind before its error.
    pub const ALL: [FileKind; 4] = [
        FileKind::Operator,
        FileKind::OperatorError,
        FileKind::Partial,
        FileKind::PartialError,
    ];

    /// The suffix after the stem.
    pub fn suffix(self) -> &'static str {
        match self {
            FileKind::Operator => ".npy",
            FileKind::OperatorError => ".error.npy",
            FileKind::Partial => ".part.npy",
            FileKind::PartialError => ".part.error.npy",
        }
    }

    /// The file name of `point` for this kind.
    pub fn file_name(self, point: &EvolutionPoint) -> String {
        format!("{}{}", point.stem(), self.suffix())
    }

    /// The error kind that goes with a main kind, or the main kind of an error kind.
    pub fn companion(self) -> FileKind {
        match self {
            FileKind::Operator => FileKind::OperatorError,
            FileKind::OperatorError => FileKind::Operator,
            FileKind::Partial => FileKind::PartialError,
            FileKind::PartialError => FileKind::Partial,
        }
    }

    /// Whether this is an error array.
    pub fn is_error(self) -> bool {
        matches!(self, FileKind::OperatorError | FileKind::PartialError)
    }

    /// `operator`, `operator error`, `partial`, `partial error`.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Operator => "operator",
            FileKind::OperatorError => "operator error",
            FileKind::Partial => "partial",
            FileKind::PartialError => "partial error",
        }
    }

    /// The point and kind a file name stands for, if it is a canonical point file name.
    pub fn parse_file_name(name: &str) -> Option<(EvolutionPoint, FileKind)> {
        // Longest suffix first: ".part.error.npy" also ends in ".error.npy" and ".npy".
        for kind in [
            FileKind::PartialError,
            FileKind::OperatorError,
            FileKind::Partial,
            FileKind::Operator,
        ] {
            if let Some(stem) = name.strip_suffix(kind.suffix()) {
                return EvolutionPoint::from_stem(stem).map(|p| (p, kind));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for mu2 in [
            1.0,
            10000.0,
            1.65f64 * 1.65,
            4.92f64.powi(2),
            1e-4,
            9.99e-5,
            1e16,
            1e300,
            5e-324,
            0.1 + 0.2,
            f64::MAX,
        ] {
            for nf in [3, 4, 5, 6] {
                let p = EvolutionPoint::new(mu2, nf).unwrap();
                for kind in FileKind::ALL {
                    let name = kind.file_name(&p);
                    assert!(name.len() < 100, "{name}");
                    let (q, k) =
                        FileKind::parse_file_name(&name).unwrap_or_else(|| panic!("{name}"));
                    assert_eq!(
                        (q.mu2.to_bits(), q.nf, k),
                        (mu2.to_bits(), nf, kind),
                        "{name}"
                    );
                }
            }
        }
        assert_eq!(EvolutionPoint::new(10000.0, 5).unwrap().stem(), "10000_nf5");
        assert_eq!(
            EvolutionPoint::new(2.7224999999999997, 4).unwrap().stem(),
            "2.7224999999999997_nf4"
        );
        assert_eq!(EvolutionPoint::new(1e-5, 3).unwrap().stem(), "1e-5_nf3");
    }

    #[test]
    fn non_canonical_names_are_not_points() {
        for name in [
            "1e4_nf5.npy",
            "10000.0_nf5.npy",
            "+10000_nf5.npy",
            "010000_nf5.npy",
            "10000_nf05.npy",
            "10000_nf7.npy",
            "NaN_nf5.npy",
            "-1_nf5.npy",
            "0_nf5.npy",
            "inf_nf5.npy",
            "10000.npy",
            "10000_nf5.npz",
            "10000_nf5.part.other.npy",
            "10000_nf+5.npy",
        ] {
            assert_eq!(FileKind::parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn invalid_points_are_refused() {
        assert!(EvolutionPoint::new(f64::NAN, 4).is_err());
        assert!(EvolutionPoint::new(-1.0, 4).is_err());
        assert!(EvolutionPoint::new(0.0, 4).is_err());
        assert!(EvolutionPoint::new(-0.0, 4).is_err());
        assert!(EvolutionPoint::new(f64::INFINITY, 4).is_err());
        assert!(EvolutionPoint::new(1.0, 7).is_err());
        assert_eq!(
            "100:5".parse::<EvolutionPoint>().unwrap(),
            EvolutionPoint::new(100.0, 5).unwrap()
        );
        assert!("100".parse::<EvolutionPoint>().is_err());
    }
}
