//! A store's metadata: `metadata.json`, the grid every operator must match and what "compatible"
//! is checked against.

use serde::{Deserialize, Serialize};

use super::point::EvolutionPoint;
use crate::error::{Error, Location, Result};

/// The `format` value of a libeko store.
pub const FORMAT_NAME: &str = "libeko-store";
/// The newest store format version this library reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// eko's flavour basis: photon, tbar .. dbar, gluon, d .. t.
pub const FLAVOR_BASIS: [i32; 14] = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6];

/// μ² of the heavy-quark matching scales, in GeV²; `None` where a quark is never matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingScales {
    /// Charm: nf 3 ↔ 4.
    pub charm: Option<f64>,
    /// Bottom: nf 4 ↔ 5.
    pub bottom: Option<f64>,
    /// Top: nf 5 ↔ 6.
    pub top: Option<f64>,
}

impl MatchingScales {
    /// The scales in order charm, bottom, top.
    pub fn as_array(&self) -> [Option<f64>; 3] {
        [self.charm, self.bottom, self.top]
    }
}

/// What a store is about. Written as `metadata.json`, readable by a person.
///
/// Free-form `theory` and `operator` descriptions (for example eko's theory and operator cards)
/// are carried along; `theory` takes part in the compatibility check, `operator` does not (it
/// legitimately differs between jobs computing different points).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The store format version, [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Where every evolution starts: (μ0², nf0).
    pub origin: EvolutionPoint,
    /// The x grid, strictly increasing in (0, 1].
    pub xgrid: Vec<f64>,
    /// The flavour basis (PDG ids), usually [`FLAVOR_BASIS`].
    pub pids: Vec<i32>,
    /// Heavy-quark matching scales.
    pub matching: MatchingScales,
    /// Free-form theory description.
    #[serde(default)]
    pub theory: serde_json::Value,
    /// Free-form operator description.
    #[serde(default)]
    pub operator: serde_json::Value,
}

impl Metadata {
    /// Metadata for a grid, with empty descriptions.
    pub fn new(
        origin: EvolutionPoint,
        xgrid: Vec<f64>,
        pids: Vec<i32>,
        matching: MatchingScales,
    ) -> Self {
        Metadata {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            origin,
            xgrid,
            pids,
            matching,
            theory: serde_json::Value::Null,
            operator: serde_json::Value::Null,
        }
    }

    /// The shape every operator of the store has: `(n_pid, n_x, n_pid, n_x)`.
    pub fn operator_shape(&self) -> [usize; 4] {
        let (p, x) = (self.pids.len(), self.xgrid.len());
        [p, x, p, x]
    }

    /// Checks the metadata is well formed; `file` names it in errors.
    pub fn validate(&self, file: &Location) -> Result<()> {
        let bad = |reason: String| Error::Metadata {
            file: file.clone(),
            reason,
        };
        if self.format != FORMAT_NAME {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                self.format
            )));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format_version {} is not supported (this libeko reads version {FORMAT_VERSION})",
                self.format_version
            )));
        }
        self.origin
            .validate()
            .map_err(|e| bad(format!("origin: {e}")))?;
        if self.xgrid.is_empty() {
            return Err(bad("xgrid is empty".into()));
        }
        if let Some(x) = self
            .xgrid
            .iter()
            .find(|x| !(x.is_finite() && **x > 0.0 && **x <= 1.0))
        {
            return Err(bad(format!("xgrid value {x} is outside (0, 1]")));
        }
        if let Some(w) = self.xgrid.windows(2).find(|w| w[0] >= w[1]) {
            return Err(bad(format!(
                "xgrid is not strictly increasing ({} then {})",
                w[0], w[1]
            )));
        }
        if self.pids.is_empty() {
            return Err(bad("pids is empty".into()));
        }
        let mut sorted = self.pids.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("pid {} appears twice", w[0])));
        }
        let scales: Vec<f64> = self.matching.as_array().into_iter().flatten().collect();
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(bad(format!(
                "matching scale {s} is not a positive finite mu2"
            )));
        }
        if scales.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(
                "matching scales are not increasing from charm to top".into()
            ));
        }
        Ok(())
    }

    /// The first field on which two stores' metadata disagree for merging: format version, x grid
    /// (bitwise), pids, origin (bitwise), matching scales (bitwise) or theory. `None` when they
    /// are compatible.
    pub fn incompatibility(&self, other: &Metadata) -> Option<(&'static str, String)> {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let opt_bits = |m: &MatchingScales| m.as_array().map(|s| s.map(f64::to_bits));
        if self.format_version != other.format_version {
            return Some((
                "format_version",
                format!("{} vs {}", self.format_version, other.format_version),
            ));
        }
        if bits(&self.xgrid) != bits(&other.xgrid) {
            return Some((
                "xgrid",
                format!(
                    "{} points vs {} points, or different values",
                    self.xgrid.len(),
                    other.xgrid.len()
                ),
            ));
        }
        if self.pids != other.pids {
            return Some(("pids", format!("{:?} vs {:?}", self.pids, other.pids)));
        }
        if self.origin != other.origin {
            return Some(("origin", format!("{} vs {}", self.origin, other.origin)));
        }
        if opt_bits(&self.matching) != opt_bits(&other.matching) {
            return Some((
                "matching",
                format!("{:?} vs {:?}", self.matching, other.matching),
            ));
        }
        if self.theory != other.theory {
            return Some(("theory", "the theory descriptions differ".into()));
        }
        None
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("metadata serializes");
        s.push('\n');
        s
    }

    /// Parses and validates `metadata.json` bytes.
    pub fn from_json(bytes: &[u8], file: &Location) -> Result<Self> {
        let m: Metadata = serde_json::from_slice(bytes).map_err(|e| Error::Metadata {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        m.validate(file)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata::new(
            EvolutionPoint::new(1.65 * 1.65, 4).unwrap(),
            vec![1e-5, 0.1, 0.5, 1.0],
            FLAVOR_BASIS.to_vec(),
            MatchingScales {
                charm: Some(1.51f64.powi(2)),
                bottom: Some(4.92f64.powi(2)),
                top: Some(172.5f64.powi(2)),
            },
        )
    }

    #[test]
    fn json_round_trips_bitwise() {
        let m = sample();
        let loc = Location::Buffer("m".into());
        let back = Metadata::from_json(m.to_json().as_bytes(), &loc).unwrap();
        assert_eq!(back.incompatibility(&m), None);
        assert_eq!(back.origin.mu2.to_bits(), m.origin.mu2.to_bits());
    }

    #[test]
    fn bad_metadata_is_named() {
        let loc = Location::Buffer("m".into());
        let mut m = sample();
        m.xgrid = vec![0.5, 0.1];
        assert!(
            m.validate(&loc)
                .unwrap_err()
                .to_string()
                .contains("strictly increasing")
        );
        let mut m = sample();
        m.format_version = 2;
        assert!(
            m.validate(&loc)
                .unwrap_err()
                .to_string()
                .contains("format_version 2")
        );
        assert!(Metadata::from_json(b"{\"format\": 1}", &loc).is_err());
        let mut other = sample();
        other.xgrid[1] = f64::from_bits(0.1f64.to_bits() + 1);
        assert_eq!(sample().incompatibility(&other).unwrap().0, "xgrid");
    }
}
