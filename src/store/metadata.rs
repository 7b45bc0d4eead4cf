//! A store's metadata: `metadata.json`, the grid every operator must match and what "compatible"
//! is checked against.

use serde::{Deserialize, Serialize};

use super::point::EvolutionPoint;
use crate::error::{Error, Location, Result};

/// The `format` value of a libeko store.
pub const FORMAT_NAME: &str = "libeko-store";
/// The store format version this library writes. Version 2 added `interpolation` and the
/// reshaped sides `output` and `input`; version 3 added checksums: every `.npy` file libeko
/// writes records the CRC-32 of its data in a comment of its header, and an operator or partial
/// also its error file's (or that it has none), which `eko verify` checks. Version 1 and 2 stores
/// keep opening and keep their meaning; their files without checksums are reported by `verify`
/// and get them from `eko verify --record` (files written into them later carry them anyway).
pub const FORMAT_VERSION: u32 = 3;
/// The oldest store format version this library reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// eko's flavour basis: photon, tbar .. dbar, gluon, d .. t.
pub const FLAVOR_BASIS: [i32; 14] = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6];
/// The evolution basis of eko, pineko and pineappl: photon, Σ, gluon, V, V3, V8, V15, V24, V35,
/// T3, T8, T15, T24, T35 (see [`crate::transform::evolution_rotation`]).
pub const EVOLUTION_BASIS: [i32; 14] = [
    22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135,
];

/// The flavour basis one side of an operator is in, as its pids say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// eko's flavour basis, [`FLAVOR_BASIS`] (pineappl's `Pdg`).
    Flavor,
    /// The evolution basis, [`EVOLUTION_BASIS`] (pineappl's `Evol`).
    Evol,
    /// Any other list of pids (a custom rotation, or a store with fewer flavours).
    Custom,
}

impl Basis {
    /// The basis `pids` are in.
    pub fn of(pids: &[i32]) -> Basis {
        if pids == FLAVOR_BASIS {
            Basis::Flavor
        } else if pids == EVOLUTION_BASIS {
            Basis::Evol
        } else {
            Basis::Custom
        }
    }

    /// `flavor`, `evol` or `custom`: the name used in the CLI, JSON and the C ABI.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Flavor => "flavor",
            Basis::Evol => "evol",
            Basis::Custom => "custom",
        }
    }
}

impl std::fmt::Display for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How operators interpolate in x: piecewise Lagrange polynomials of `polynomial_degree` on the
/// x grid, in ln x when `log` (eko's operator card `configs.interpolation_polynomial_degree` and
/// `configs.interpolation_is_log`). Reinterpolation onto another x grid needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interpolation {
    /// The degree of the polynomials, at least 1 (eko's default: 4).
    pub polynomial_degree: u32,
    /// Whether the polynomials are in ln x (eko's default) or in x.
    pub log: bool,
}

impl Default for Interpolation {
    /// eko's defaults: degree 4 in ln x.
    fn default() -> Self {
        Interpolation {
            polynomial_degree: 4,
            log: true,
        }
    }
}

impl std::fmt::Display for Interpolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "degree {} in {}",
            self.polynomial_degree,
            if self.log { "ln x" } else { "x" }
        )
    }
}

/// One side of a reshaped store's operators: its x grid and pids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// The x grid, strictly increasing in (0, 1].
    pub xgrid: Vec<f64>,
    /// The pids (PDG ids, or evolution-basis ids).
    pub pids: Vec<i32>,
}

impl Side {
    /// The basis its pids are in.
    pub fn basis(&self) -> Basis {
        Basis::of(&self.pids)
    }

    /// Whether both sides hold the same x grid (bit for bit) and pids.
    pub(crate) fn same_bits(&self, other: &Side) -> bool {
        same_values(&self.xgrid, &other.xgrid) && self.pids == other.pids
    }
}

/// Whether two x grids are the same, bit for bit.
pub(crate) fn same_values(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

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
/// `xgrid` and `pids` are the grid the operators were computed on: partials and threshold
/// operators are square on it, and so are the final operators of a store that was not reshaped.
/// A reshaped store (written by [`crate::transform`], `eko reshape`) holds final operators only,
/// of shape `(output.pids, output.xgrid, input.pids, input.xgrid)`; a side that was not changed
/// has no entry and is the computed grid.
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
    /// How the operators interpolate in x (format version 2; `None` when unknown: a version 1
    /// store, whose [`interpolation`](Self::interpolation) falls back on an eko operator card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<Interpolation>,
    /// The output side (`pid_out`, `x_out`) of a reshaped store's operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Side>,
    /// The input side (`pid_in`, `x_in`) of a reshaped store's operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Side>,
    /// Where a reshaped store came from: the source store and the transform, free-form.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub reshaped_from: serde_json::Value,
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
    /// Metadata for a grid, with empty descriptions and eko's default interpolation (degree 4
    /// in ln x; set [`interpolation`](Self::interpolation) to change it).
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
            interpolation: Some(Interpolation::default()),
            output: None,
            input: None,
            reshaped_from: serde_json::Value::Null,
            matching,
            theory: serde_json::Value::Null,
            operator: serde_json::Value::Null,
        }
    }

    /// The convolution type the operators evolve, as `(polarized, time_like)`: eko's operator
    /// card `configs.polarized` and `configs.time_like` (an unpolarised PDF, `(false, false)`,
    /// when the card does not say).
    pub fn convolution(&self) -> (bool, bool) {
        let flag = |name: &str| {
            self.operator
                .get("configs")
                .and_then(|c| c.get(name))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        (flag("polarized"), flag("time_like"))
    }

    /// The shape of the store's final operators: `(n_pid_out, n_x_out, n_pid_in, n_x_in)`,
    /// square `(n_pid, n_x, n_pid, n_x)` unless the store is reshaped.
    pub fn operator_shape(&self) -> [usize; 4] {
        [
            self.output_pids().len(),
            self.output_xgrid().len(),
            self.input_pids().len(),
            self.input_xgrid().len(),
        ]
    }

    /// The shape of partials and threshold operators: square on the computed grid,
    /// `(n_pid, n_x, n_pid, n_x)`.
    pub fn square_shape(&self) -> [usize; 4] {
        let (p, x) = (self.pids.len(), self.xgrid.len());
        [p, x, p, x]
    }

    /// Whether the final operators were reshaped (one side differs from the computed grid).
    pub fn is_reshaped(&self) -> bool {
        self.output.is_some() || self.input.is_some()
    }

    /// The x grid of the final operators' output side (`x_out`).
    pub fn output_xgrid(&self) -> &[f64] {
        self.output.as_ref().map_or(&self.xgrid, |s| &s.xgrid)
    }

    /// The pids of the final operators' output side (`pid_out`).
    pub fn output_pids(&self) -> &[i32] {
        self.output.as_ref().map_or(&self.pids, |s| &s.pids)
    }

    /// The x grid of the final operators' input side (`x_in`).
    pub fn input_xgrid(&self) -> &[f64] {
        self.input.as_ref().map_or(&self.xgrid, |s| &s.xgrid)
    }

    /// The pids of the final operators' input side (`pid_in`).
    pub fn input_pids(&self) -> &[i32] {
        self.input.as_ref().map_or(&self.pids, |s| &s.pids)
    }

    /// The output side of the final operators, reshaped or not.
    pub fn output_side(&self) -> Side {
        Side {
            xgrid: self.output_xgrid().to_vec(),
            pids: self.output_pids().to_vec(),
        }
    }

    /// The input side of the final operators, reshaped or not.
    pub fn input_side(&self) -> Side {
        Side {
            xgrid: self.input_xgrid().to_vec(),
            pids: self.input_pids().to_vec(),
        }
    }

    /// Sets the final operators' sides; a side equal (bitwise) to the computed grid is recorded
    /// as not reshaped.
    pub fn set_sides(&mut self, output: Side, input: Side) {
        let computed = Side {
            xgrid: self.xgrid.clone(),
            pids: self.pids.clone(),
        };
        self.output = (!output.same_bits(&computed)).then_some(output);
        self.input = (!input.same_bits(&computed)).then_some(input);
    }

    /// How the operators interpolate in x: the recorded `interpolation`, else (a version 1
    /// store imported from eko) the eko operator card's `configs.interpolation_polynomial_degree`
    /// and `configs.interpolation_is_log`; `None` when neither says.
    pub fn interpolation(&self) -> Option<Interpolation> {
        self.interpolation.or_else(|| {
            let configs = self.operator.get("configs")?;
            let degree = configs.get("interpolation_polynomial_degree")?.as_u64()?;
            let log = configs.get("interpolation_is_log")?.as_bool()?;
            Some(Interpolation {
                polynomial_degree: u32::try_from(degree).ok()?,
                log,
            })
        })
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
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&self.format_version) {
            return Err(bad(format!(
                "format_version {} is not supported (this libeko reads versions \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.format_version < 2 {
            for (field, present) in [
                ("interpolation", self.interpolation.is_some()),
                ("output", self.output.is_some()),
                ("input", self.input.is_some()),
            ] {
                if present {
                    return Err(bad(format!(
                        "{field} needs format_version 2 (this store says {})",
                        self.format_version
                    )));
                }
            }
        }
        self.origin
            .validate()
            .map_err(|e| bad(format!("origin: {e}")))?;
        check_xgrid(&self.xgrid, "xgrid").map_err(bad)?;
        check_pids(&self.pids, "pids").map_err(bad)?;
        for (name, side) in [("output", &self.output), ("input", &self.input)] {
            if let Some(side) = side {
                check_xgrid(&side.xgrid, &format!("{name}.xgrid")).map_err(bad)?;
                check_pids(&side.pids, &format!("{name}.pids")).map_err(bad)?;
            }
        }
        if let Some(i) = self.interpolation
            && i.polynomial_degree < 1
        {
            return Err(bad(
                "interpolation.polynomial_degree must be at least 1".into()
            ));
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

    /// The first field on which two stores' metadata disagree for merging: x grid (bitwise),
    /// pids, the reshaped sides (a reshaped store never mixes with an unreshaped one, nor with
    /// one reshaped otherwise), interpolation (when both record one), origin (bitwise),
    /// matching scales (bitwise) or theory. `None` when they are compatible. Format versions 1
    /// and 2 mix: a square version 2 store means what a version 1 store means.
    pub fn incompatibility(&self, other: &Metadata) -> Option<(&'static str, String)> {
        let opt_bits = |m: &MatchingScales| m.as_array().map(|s| s.map(f64::to_bits));
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
        for (field, mine, theirs) in [
            ("output", &self.output, &other.output),
            ("input", &self.input, &other.input),
        ] {
            let describe = |s: &Option<Side>| match s {
                None => "not reshaped".to_string(),
                Some(s) => format!(
                    "reshaped to {} x values in the {} basis",
                    s.xgrid.len(),
                    s.basis()
                ),
            };
            let same = match (mine, theirs) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same_bits(b),
                _ => false,
            };
            if !same {
                let detail = if mine.is_some() != theirs.is_some() {
                    format!(
                        "one store is reshaped and the other is not (its {field} side: {} vs \
                         {}); merge before reshaping, or reshape both the same way",
                        describe(mine),
                        describe(theirs)
                    )
                } else {
                    format!(
                        "the stores are reshaped differently on the {field} side ({} vs {}, or \
                         other values)",
                        describe(mine),
                        describe(theirs)
                    )
                };
                return Some((field, detail));
            }
        }
        if let (Some(a), Some(b)) = (self.interpolation(), other.interpolation())
            && a != b
        {
            return Some(("interpolation", format!("{a} vs {b}")));
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

    /// Parses and validates `metadata.json` bytes (format versions 1 and 2).
    pub fn from_json(bytes: &[u8], file: &Location) -> Result<Self> {
        let m: Metadata = serde_json::from_slice(bytes).map_err(|e| Error::Metadata {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        m.validate(file)?;
        Ok(m)
    }
}

/// Checks an x grid: not empty, values in (0, 1], strictly increasing.
pub(crate) fn check_xgrid(xgrid: &[f64], name: &str) -> std::result::Result<(), String> {
    if xgrid.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if let Some(x) = xgrid
        .iter()
        .find(|x| !(x.is_finite() && **x > 0.0 && **x <= 1.0))
    {
        return Err(format!("{name} value {x} is outside (0, 1]"));
    }
    if let Some(w) = xgrid.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "{name} is not strictly increasing ({} then {})",
            w[0], w[1]
        ));
    }
    Ok(())
}

/// Checks pids: not empty, none twice.
pub(crate) fn check_pids(pids: &[i32], name: &str) -> std::result::Result<(), String> {
    if pids.is_empty() {
        return Err(format!("{name} is empty"));
    }
    let mut sorted = pids.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("{name}: pid {} appears twice", w[0]));
    }
    Ok(())
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
        m.format_version = 4;
        assert!(
            m.validate(&loc)
                .unwrap_err()
                .to_string()
                .contains("format_version 4")
        );
        // Version 1 has no interpolation nor sides.
        let mut m = sample();
        m.format_version = 1;
        assert!(
            m.validate(&loc)
                .unwrap_err()
                .to_string()
                .contains("interpolation needs format_version 2")
        );
        m.interpolation = None;
        m.validate(&loc).unwrap();
        assert!(Metadata::from_json(b"{\"format\": 1}", &loc).is_err());
        let mut other = sample();
        other.xgrid[1] = f64::from_bits(0.1f64.to_bits() + 1);
        assert_eq!(sample().incompatibility(&other).unwrap().0, "xgrid");
    }

    #[test]
    fn reshaped_sides() {
        let mut m = sample();
        assert_eq!(m.operator_shape(), [14, 4, 14, 4]);
        // A side equal to the computed grid is not recorded.
        m.set_sides(
            Side {
                xgrid: vec![0.01, 0.5],
                pids: FLAVOR_BASIS.to_vec(),
            },
            Side {
                xgrid: m.xgrid.clone(),
                pids: EVOLUTION_BASIS.to_vec(),
            },
        );
        assert_eq!(m.operator_shape(), [14, 2, 14, 4]);
        assert_eq!(m.square_shape(), [14, 4, 14, 4]);
        assert_eq!(Basis::of(m.input_pids()), Basis::Evol);
        assert_eq!(Basis::of(m.output_pids()), Basis::Flavor);
        let loc = Location::Buffer("m".into());
        let back = Metadata::from_json(m.to_json().as_bytes(), &loc).unwrap();
        assert_eq!(back, m);
        let (field, detail) = sample().incompatibility(&m).unwrap();
        assert_eq!(field, "output");
        assert!(
            detail.contains("one store is reshaped and the other is not"),
            "{detail}"
        );
        let mut bad = m.clone();
        bad.output.as_mut().unwrap().xgrid = vec![0.5, 0.01];
        assert!(
            bad.validate(&loc)
                .unwrap_err()
                .to_string()
                .contains("output.xgrid is not strictly increasing")
        );
        // Interpolation from an eko operator card when not recorded.
        let mut old = sample();
        old.interpolation = None;
        assert_eq!(old.interpolation(), None);
        old.operator = serde_json::json!({"configs": {"interpolation_polynomial_degree": 2,
                                                       "interpolation_is_log": false}});
        assert_eq!(
            old.interpolation(),
            Some(Interpolation {
                polynomial_degree: 2,
                log: false
            })
        );
        assert_eq!(sample().incompatibility(&old).unwrap().0, "interpolation");
    }
}
