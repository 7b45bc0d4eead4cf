//! The operators a final operator is made of, and the path from a store's origin to a point.
//!
//! An evolution point is a node (μ², nf). Every operator is an edge between two nodes:
//! - an evolution **segment** `(origin μ², target μ², nf)`: evolve within one flavour patch;
//! - a **matching** at a heavy-quark threshold `(scale, nf → nf ± 1)`: forward when nf grows,
//!   inverse when it decreases (backward evolution).
//!
//! The path from the origin (μ0², nf0) to a target (Q², nf) changes nf by one at each matching
//! scale it crosses, as eko builds it: a segment from the origin to the first matching scale, the
//! matching, a segment to the next matching scale, ..., and the last segment from the last
//! matching scale to Q². The final operator is the product with the last segment on the left:
//! `O = P · M_k · E_k · ... · M_1 · E_1`.
//!
//! The last segment is the point's *partial* operator (`{stem}.part.npy`); every other edge is a
//! *threshold* operator, shared by every point beyond that threshold, stored in `thresholds.npz`
//! under the member names of [`Edge::key`]:
//!
//! ```text
//! segment_{origin}_to_{target}_nf{nf}          e.g. segment_2.7225_to_24.2064_nf4
//! matching_{quark}_{scale}_nf{from}_to_nf{to}  e.g. matching_bottom_24.2064_nf4_to_nf5
//!                                                   matching_bottom_24.2064_nf5_to_nf4 (inverse)
//! ... each followed by .error for its error     e.g. segment_2.7225_to_24.2064_nf4.error
//! ```
//!
//! with μ² written as in point file names (shortest round-trip decimal).

use std::fmt;

use serde::Serialize;

use super::metadata::MatchingScales;
use super::point::{EvolutionPoint, mu2_text, parse_mu2};
use crate::error::{Error, Result};

/// An evolution segment: from μ² `origin` to μ² `target` with `nf` active flavours.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Segment {
    /// Starting μ² (GeV²).
    pub origin: f64,
    /// Final μ² (GeV²).
    pub target: f64,
    /// Active flavours.
    pub nf: u8,
}

/// A matching at a heavy-quark threshold, from `from_nf` flavours to `to_nf = from_nf ± 1`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Matching {
    /// μ² of the threshold (GeV²).
    pub scale: f64,
    /// Flavours before.
    pub from_nf: u8,
    /// Flavours after.
    pub to_nf: u8,
}

impl Matching {
    /// Whether this is an inverse matching (nf decreases: backward evolution).
    pub fn is_inverse(&self) -> bool {
        self.to_nf < self.from_nf
    }

    /// The heavy quark matched: `charm`, `bottom` or `top`.
    pub fn quark(&self) -> &'static str {
        quark(self.from_nf.min(self.to_nf)).unwrap_or("?")
    }
}

/// One operator of a path: a segment or a matching.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Edge {
    /// An evolution segment.
    Segment(Segment),
    /// A heavy-quark matching.
    Matching(Matching),
}

/// The heavy quark that becomes active going from `lower` to `lower + 1` flavours.
fn quark(lower: u8) -> Option<&'static str> {
    match lower {
        3 => Some("charm"),
        4 => Some("bottom"),
        5 => Some("top"),
        _ => None,
    }
}

/// The matching scale between `lower` and `lower + 1` flavours, if the store has one.
fn matching_scale(scales: &MatchingScales, lower: u8) -> Option<f64> {
    match lower {
        3 => scales.charm,
        4 => scales.bottom,
        5 => scales.top,
        _ => None,
    }
}

/// The suffix of an error member's key.
pub const ERROR_SUFFIX: &str = ".error";

impl Edge {
    /// The member key in `thresholds.npz` (the file is `{key}.npy`; its error `{key}.error.npy`).
    pub fn key(&self) -> String {
        match self {
            Edge::Segment(s) => format!(
                "segment_{}_to_{}_nf{}",
                mu2_text(s.origin),
                mu2_text(s.target),
                s.nf
            ),
            Edge::Matching(m) => format!(
                "matching_{}_{}_nf{}_to_nf{}",
                m.quark(),
                mu2_text(m.scale),
                m.from_nf,
                m.to_nf
            ),
        }
    }

    /// The edge whose [`key`](Self::key) is `key`, if `key` is exactly a canonical key.
    pub fn from_key(key: &str) -> Option<Edge> {
        let nf = |s: &str| -> Option<u8> {
            let n: u8 = s.parse().ok()?;
            (n <= 6 && n.to_string() == s).then_some(n)
        };
        let edge = if let Some(rest) = key.strip_prefix("segment_") {
            let (scales, n) = rest.rsplit_once("_nf")?;
            let (origin, target) = scales.split_once("_to_")?;
            Edge::Segment(Segment {
                origin: parse_mu2(origin)?,
                target: parse_mu2(target)?,
                nf: nf(n)?,
            })
        } else if let Some(rest) = key.strip_prefix("matching_") {
            let (_quark, rest) = rest.split_once('_')?;
            let (scale, nfs) = rest.split_once("_nf")?;
            let (from, to) = nfs.split_once("_to_nf")?;
            let (from_nf, to_nf) = (nf(from)?, nf(to)?);
            if from_nf.abs_diff(to_nf) != 1 || quark(from_nf.min(to_nf)).is_none() {
                return None;
            }
            Edge::Matching(Matching {
                scale: parse_mu2(scale)?,
                from_nf,
                to_nf,
            })
        } else {
            return None;
        };
        (edge.key() == key).then_some(edge)
    }

    /// The nodes this edge joins: (from, to).
    pub fn endpoints(&self) -> (EvolutionPoint, EvolutionPoint) {
        match *self {
            Edge::Segment(s) => (
                EvolutionPoint {
                    mu2: s.origin,
                    nf: s.nf,
                },
                EvolutionPoint {
                    mu2: s.target,
                    nf: s.nf,
                },
            ),
            Edge::Matching(m) => (
                EvolutionPoint {
                    mu2: m.scale,
                    nf: m.from_nf,
                },
                EvolutionPoint {
                    mu2: m.scale,
                    nf: m.to_nf,
                },
            ),
        }
    }

    fn identity(&self) -> (u8, u64, u64, u8, u8) {
        match *self {
            Edge::Segment(s) => (0, s.origin.to_bits(), s.target.to_bits(), s.nf, s.nf),
            Edge::Matching(m) => (1, m.scale.to_bits(), 0, m.from_nf, m.to_nf),
        }
    }
}

impl PartialEq for Edge {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}
impl Eq for Edge {}
impl std::hash::Hash for Edge {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}
impl PartialOrd for Edge {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Edge {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.endpoints(), other.endpoints());
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(self.identity().cmp(&other.identity()))
    }
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edge::Segment(s) => write!(
                f,
                "segment mu2 {} -> {} with nf={}",
                s.origin, s.target, s.nf
            ),
            Edge::Matching(m) => write!(
                f,
                "{} {} matching at mu2 {}, nf {} -> {}",
                if m.is_inverse() { "inverse" } else { "forward" },
                m.quark(),
                m.scale,
                m.from_nf,
                m.to_nf
            ),
        }
    }
}

/// The path from a store's origin to a point.
#[derive(Debug, Clone, Serialize)]
pub struct EvolutionPath {
    /// The point reached.
    pub target: EvolutionPoint,
    /// The threshold operators, in the order they apply (first applied first): segment, matching,
    /// segment, matching, ... Empty when no threshold is crossed.
    pub thresholds: Vec<Edge>,
    /// The last segment: the point's partial operator.
    pub partial: Segment,
}

impl EvolutionPath {
    /// The path from `origin` to `target` through the matching `scales`.
    pub fn new(
        origin: EvolutionPoint,
        scales: &MatchingScales,
        target: EvolutionPoint,
    ) -> Result<Self> {
        let mut thresholds = Vec::new();
        let mut base = origin.mu2;
        let mut nf = origin.nf;
        while nf != target.nf {
            let next = if target.nf > nf { nf + 1 } else { nf - 1 };
            let lower = nf.min(next);
            let scale = matching_scale(scales, lower).ok_or_else(|| Error::NoPath {
                point: target.to_string(),
                reason: match quark(lower) {
                    Some(q) => format!(
                        "reaching nf={} from the origin's nf={} crosses the {q} threshold, \
                         and the grid (store or dataset) has no {q} matching scale",
                        target.nf, origin.nf
                    ),
                    None => format!(
                        "reaching nf={} from the origin's nf={} needs a matching between nf={} \
                         and nf={}, which does not exist",
                        target.nf,
                        origin.nf,
                        lower,
                        lower + 1
                    ),
                },
            })?;
            thresholds.push(Edge::Segment(Segment {
                origin: base,
                target: scale,
                nf,
            }));
            thresholds.push(Edge::Matching(Matching {
                scale,
                from_nf: nf,
                to_nf: next,
            }));
            base = scale;
            nf = next;
        }
        Ok(EvolutionPath {
            target,
            thresholds,
            partial: Segment {
                origin: base,
                target: target.mu2,
                nf,
            },
        })
    }

    /// Whether the path crosses a threshold (if not, the partial is the final operator).
    pub fn crosses_threshold(&self) -> bool {
        !self.thresholds.is_empty()
    }

    /// Every element in the order they apply, the partial last.
    pub fn elements(&self) -> Vec<Edge> {
        let mut all = self.thresholds.clone();
        all.push(Edge::Segment(self.partial));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scales() -> MatchingScales {
        MatchingScales {
            charm: Some(1.51f64.powi(2)),
            bottom: Some(4.92f64.powi(2)),
            top: Some(172.5f64.powi(2)),
        }
    }

    fn point(mu2: f64, nf: u8) -> EvolutionPoint {
        EvolutionPoint::new(mu2, nf).unwrap()
    }

    #[test]
    fn forward_backward_and_direct_paths() {
        let origin = point(1.65f64.powi(2), 4);
        let (mc, mb, mt) = (1.51f64.powi(2), 4.92f64.powi(2), 172.5f64.powi(2));
        let direct = EvolutionPath::new(origin, &scales(), point(10.0, 4)).unwrap();
        assert!(!direct.crosses_threshold());
        assert_eq!(direct.partial.origin, origin.mu2);

        let up = EvolutionPath::new(origin, &scales(), point(1e5, 6)).unwrap();
        let keys: Vec<String> = up.elements().iter().map(Edge::key).collect();
        assert_eq!(
            keys,
            [
                format!("segment_{}_to_{}_nf4", mu2_text(origin.mu2), mu2_text(mb)),
                format!("matching_bottom_{}_nf4_to_nf5", mu2_text(mb)),
                format!("segment_{}_to_{}_nf5", mu2_text(mb), mu2_text(mt)),
                format!("matching_top_{}_nf5_to_nf6", mu2_text(mt)),
                format!("segment_{}_to_100000_nf6", mu2_text(mt)),
            ]
        );

        // Backward: nf decreases with an inverse matching; Q² may lie above the threshold (a
        // point asked for with fewer flavours than its natural number).
        let down = EvolutionPath::new(origin, &scales(), point(3.0, 3)).unwrap();
        match down.thresholds.as_slice() {
            [Edge::Segment(s), Edge::Matching(m)] => {
                assert_eq!((s.origin, s.target, s.nf), (origin.mu2, mc, 4));
                assert!(m.is_inverse());
                assert_eq!(
                    (m.scale, m.from_nf, m.to_nf, m.quark()),
                    (mc, 4, 3, "charm")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((down.partial.origin, down.partial.nf), (mc, 3));
    }

    #[test]
    fn missing_matching_scales_are_named() {
        let origin = point(2.0, 4);
        let none = MatchingScales::default();
        let err = EvolutionPath::new(origin, &none, point(100.0, 5)).unwrap_err();
        assert!(
            err.to_string().contains("no bottom matching scale"),
            "{err}"
        );
        let err = EvolutionPath::new(origin, &scales(), point(1.0, 2)).unwrap_err();
        assert!(matches!(err, Error::NoPath { .. }), "{err}");
    }

    #[test]
    fn keys_round_trip_and_reject_variants() {
        let path = EvolutionPath::new(point(2.0, 3), &scales(), point(1e6, 6)).unwrap();
        let down = EvolutionPath::new(point(1e6, 6), &scales(), point(1.0, 3)).unwrap();
        for edge in path.elements().into_iter().chain(down.elements()) {
            let key = edge.key();
            assert_eq!(Edge::from_key(&key), Some(edge), "{key}");
        }
        for bad in [
            "segment_1_to_2_nf7",
            "segment_1.0_to_2_nf4",
            "segment_1_to_2_nf04",
            "segment_1_2_nf4",
            "matching_bottom_20_nf4_to_nf6",
            "matching_charm_20_nf4_to_nf5",
            "matching_bottom_20_nf2_to_nf3",
            "matching_bottom_-20_nf4_to_nf5",
            "operator",
            "segment_1_to_2_nf4.error",
        ] {
            assert_eq!(Edge::from_key(bad), None, "{bad}");
        }
    }
}
