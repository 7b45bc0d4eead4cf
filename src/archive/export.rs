//! Export of a store as an eko 0.15 archive (the layout `eko.EKO.read` of eko 0.15.7 opens): the
//! inverse of [`import`](super::import).
//!
//! What is written (a plain ustar `.tar`, members named `./...` as Python's `tarfile` names them):
//!
//! ```text
//! ./metadata.yaml       data_version: 3, origin: [mu0², nf0], version: 0.15.7, xgrid
//! ./theory.yaml         the store's theory card (converted from eko 0.13/0.14 when needed)
//! ./operator.yaml       the store's operator card (likewise)
//! ./recipes/            {origin, target, nf, cliff} of every segment of every point's path
//! ./recipes/matching/   {scale, hq, inverse} of every matching on those paths
//! ./parts/              with_parts: threshold segments (cliff) and partials
//! ./parts/matching/     with_parts: threshold matchings
//! ./operators/          {scale: mu², nf} and the final operator (and error)
//! ```
//!
//! Each item is `<stem>.yaml` (its header) and `<stem>.npy.lz4` (the operator, when it has no
//! error) or `<stem>.npz.lz4` (an npz with members `operator.npy` and `error.npy`), one LZ4
//! frame each, as eko writes them.
//!
//! **Stems.** eko finds an item's payload by hashing its header: the stem is
//! `base64url(abs(hash(header)).to_bytes(8, "little"))`, with Python's `hash` of the header
//! dataclass, which is the hash of the tuple of its fields (`(scale, nf)`, `(origin, target, nf,
//! cliff)`, `(scale, hq, inverse)`). `EKO.read` reads every `.yaml` header, hashes it and opens
//! the payload whose name starts with that stem: a payload under another name is not found. The
//! hash of floats, ints, bools and tuples is deterministic in CPython (only strings are salted),
//! and the same on every 64-bit CPython from 3.8 on; [`python_hash`] reproduces it.
//!
//! **Cards.** A store imported from eko 0.15 keeps its cards in `metadata.json` (`.nan` as the
//! string `".nan"`): they are written back as YAML (`.nan` again). Cards of eko 0.13 or 0.14
//! (`mu0` in the operator card, no `init`) are converted as eko 0.15.7 converts them when it
//! reads such an archive (its `io/v1.py` for 0.13, `io/v2.py` for 0.14, chosen by the operator
//! card's `eko_version`). A store with no cards (one made from Rust or C) is refused: eko's theory
//! card holds physics (orders, couplings, masses) that the store does not record, and libeko does
//! not invent it; the message names the missing card.
//!
//! **Refused** (nothing written): a reshaped store (eko 0.15 records one x grid and no pids, and
//! `EKO.read` refuses non-square operators), pids other than eko's flavour basis, a point with a
//! partial and no final operator unless `with_parts`, a partial whose threshold operators are
//! missing (with `with_parts`), a destination inside the store, an existing file unless
//! `overwrite`.
//!
//! **Compression.** [`Compression::Lz4`] as eko. [`Compression::None`] writes the same items as
//! LZ4 frames of *stored* blocks (the frame format's uncompressed blocks): no compression work,
//! and still read by eko and by [`import`](super::import). eko cannot read items that are not LZ4
//! frames: it looks payloads up by the suffixes `.npy.lz4`/`.npz.lz4` only and always
//! LZ4-decodes them, so a plain `.npy` item would be "not available".
//!
//! **Streaming.** Items are read through the store's maps, one operator (and its error) at a
//! time, cut into 1 MiB blocks compressed on `threads` threads, and written by a writer thread
//! that streams each member into the tar (its header is patched in once the size is known):
//! memory holds a few blocks, whatever the operator's size. The archive is written under a
//! temporary name beside the destination and renamed into place when complete.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use ndarray::{ArrayView4, CowArray, Ix4};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, IoContext, Location, Result};
use crate::store::{
    Edge, EvolutionPath, EvolutionPoint, FLAVOR_BASIS, FileKind, Matching, Metadata, Store,
};

/// The eko version whose layout is written (`metadata.yaml`'s `version`).
pub const EKO_VERSION: &str = "0.15.7";
/// The `data_version` written.
pub const DATA_VERSION: i64 = 3;
/// LZ4 frame block size (1 MiB: the frame descriptor's block-size code 6).
const BLOCK: usize = 1 << 20;
/// Compressed blocks in flight between the compressing threads and the writer.
const IN_FLIGHT: usize = 4;

/// How payloads are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// LZ4 frames, as eko writes them.
    #[default]
    Lz4,
    /// LZ4 frames of stored (uncompressed) blocks: no compression work, read by eko all the same.
    None,
}

/// Options of [`export`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Also write partials and threshold operators as eko's `parts/` and `parts/matching/`, so
    /// that importing the archive gives back the store.
    pub with_parts: bool,
    /// Payload compression.
    pub compression: Compression,
    /// Replace an existing file at the destination (else refused).
    pub overwrite: bool,
    /// Compressing threads; 0: the available parallelism (at most 4).
    pub threads: usize,
}

/// Export progress: payloads written of the total.
#[derive(Debug, Clone, Copy)]
pub struct ExportProgress {
    /// Payloads written.
    pub done: usize,
    /// Payloads to write.
    pub total: usize,
}

/// What [`export`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The store read.
    pub store: PathBuf,
    /// The archive written.
    pub archive: PathBuf,
    /// Final operators written (`operators/`).
    pub operators: usize,
    /// Partials written (`parts/`, not cliff, or cliff when they end on a matching scale).
    pub partials: usize,
    /// Threshold operators written (`parts/` cliff segments and `parts/matching/`).
    pub thresholds: usize,
    /// Recipe headers written (`recipes/`, `recipes/matching/`).
    pub recipes: usize,
    /// Where the cards came from: `store` (eko 0.15 cards as recorded) or `converted from eko
    /// 0.13`/`0.14`.
    pub cards: String,
    /// Compression used.
    pub compression: Compression,
    /// Payload bytes before compression (npy and npz files).
    pub payload_bytes: u64,
    /// Size of the archive.
    pub archive_bytes: u64,
}

/// An item's header: the fields of eko's `Target`, `Evolution` and `Matching` dataclasses.
#[derive(Debug, Clone, Copy)]
enum Header {
    Target {
        scale: f64,
        nf: u8,
    },
    Evolution {
        origin: f64,
        target: f64,
        nf: u8,
        cliff: bool,
    },
    Matching {
        scale: f64,
        hq: u8,
        inverse: bool,
    },
}

impl Header {
    /// The header as `yaml.dump(asdict(header))` writes it (keys sorted).
    fn yaml(&self) -> String {
        let f = super::yaml::float_text;
        match *self {
            Header::Target { scale, nf } => format!("nf: {nf}\nscale: {}\n", f(scale)),
            Header::Evolution {
                origin,
                target,
                nf,
                cliff,
            } => format!(
                "cliff: {cliff}\nnf: {nf}\norigin: {}\ntarget: {}\n",
                f(origin),
                f(target)
            ),
            Header::Matching { scale, hq, inverse } => {
                format!("hq: {hq}\ninverse: {inverse}\nscale: {}\n", f(scale))
            }
        }
    }

    /// Python's `hash(header)`: the hash of the tuple of its fields.
    fn python_hash(&self) -> i64 {
        let lanes: Vec<i64> = match *self {
            Header::Target { scale, nf } => vec![hash_float(scale), i64::from(nf)],
            Header::Evolution {
                origin,
                target,
                nf,
                cliff,
            } => vec![
                hash_float(origin),
                hash_float(target),
                i64::from(nf),
                i64::from(cliff),
            ],
            Header::Matching { scale, hq, inverse } => {
                vec![hash_float(scale), i64::from(hq), i64::from(inverse)]
            }
        };
        hash_tuple(&lanes)
    }

    /// eko's stem for this header (`eko.io.inventory.encode`).
    fn stem(&self) -> String {
        stem_of_hash(self.python_hash())
    }
}

/// Python's hash of a header: see [`Header::python_hash`]. Public for the tests.
#[doc(hidden)]
pub fn python_hash(fields: &[PyValue]) -> i64 {
    let lanes: Vec<i64> = fields
        .iter()
        .map(|v| match *v {
            PyValue::Float(f) => hash_float(f),
            PyValue::Int(i) => hash_int(i),
            PyValue::Bool(b) => i64::from(b),
        })
        .collect();
    hash_tuple(&lanes)
}

/// A field of a header, for [`python_hash`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum PyValue {
    /// A Python float.
    Float(f64),
    /// A Python int (small).
    Int(i64),
    /// A Python bool.
    Bool(bool),
}

/// CPython's modulus for numeric hashes, 2^61 - 1.
const MODULUS: u64 = (1 << 61) - 1;

/// CPython's hash of a float: `v mod (2^61 - 1)` with v's sign (`_Py_HashDouble`).
fn hash_float(v: f64) -> i64 {
    if v.is_infinite() {
        return if v > 0.0 { 314_159 } else { -314_159 };
    }
    if v == 0.0 || v.is_nan() {
        // NaN hashes by identity in CPython: never in a header libeko writes (points are finite).
        return 0;
    }
    let bits = v.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exp) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    };
    // v = mantissa · 2^exp, and 2^61 ≡ 1 (mod 2^61 - 1): 2^exp ≡ 2^(exp mod 61).
    let shift = exp.rem_euclid(61) as u32;
    let x = ((u128::from(mantissa % MODULUS) << shift) % u128::from(MODULUS)) as i64;
    let x = if v < 0.0 { -x } else { x };
    if x == -1 { -2 } else { x }
}

/// CPython's hash of an int.
fn hash_int(i: i64) -> i64 {
    let x = (i.unsigned_abs() % MODULUS) as i64;
    let x = if i < 0 { -x } else { x };
    if x == -1 { -2 } else { x }
}

/// CPython's tuple hash (xxHash-based, CPython 3.8 and later, 64-bit).
fn hash_tuple(lanes: &[i64]) -> i64 {
    const P1: u64 = 11_400_714_785_074_694_791;
    const P2: u64 = 14_029_467_366_897_019_727;
    const P5: u64 = 2_870_177_450_012_600_261;
    let mut acc = P5;
    for &lane in lanes {
        acc = acc.wrapping_add((lane as u64).wrapping_mul(P2));
        acc = acc.rotate_left(31);
        acc = acc.wrapping_mul(P1);
    }
    acc = acc.wrapping_add((lanes.len() as u64) ^ (P5 ^ 3_527_539));
    if acc == u64::MAX {
        return 1_546_275_796;
    }
    acc as i64
}

/// `base64.urlsafe_b64encode(abs(h).to_bytes(8, "little"))`.
fn stem_of_hash(h: i64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = h.unsigned_abs().to_le_bytes();
    let mut out = String::with_capacity(12);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Where an item's payload comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A store file (operator or partial) and its error, if any.
    Store(EvolutionPoint, FileKind),
    /// A member of `thresholds.npz` and its error, if any.
    Threshold(Edge),
}

/// One item of the archive.
#[derive(Debug, Clone)]
struct Item {
    dir: &'static str,
    header: Header,
    /// `None` for recipes (headers only).
    source: Option<Source>,
}

/// The eko header of a threshold edge.
fn edge_header(edge: &Edge) -> (&'static str, Header) {
    match *edge {
        Edge::Segment(s) => (
            "parts",
            Header::Evolution {
                origin: s.origin,
                target: s.target,
                nf: s.nf,
                cliff: true,
            },
        ),
        Edge::Matching(m) => ("parts/matching", matching_header(&m)),
    }
}

fn matching_header(m: &Matching) -> Header {
    Header::Matching {
        scale: m.scale,
        hq: m.from_nf.max(m.to_nf),
        inverse: m.is_inverse(),
    }
}

/// Whether `mu2` is one of the store's matching scales (eko's `atlas.walls`).
fn on_wall(metadata: &Metadata, mu2: f64) -> bool {
    metadata
        .matching
        .as_array()
        .iter()
        .flatten()
        .any(|s| s.to_bits() == mu2.to_bits())
}

fn invalid(reason: String) -> Error {
    Error::InvalidArgument { reason }
}

/// Whether two arrays hold the same bits.
fn same_bits(a: &ArrayView4<'_, f64>, b: &ArrayView4<'_, f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Plans the items: recipes, parts, operators.
fn plan(store: &Store, options: &ExportOptions) -> Result<Vec<Item>> {
    let metadata = store.metadata();
    let dir = store.dir().display();
    let finals: Vec<EvolutionPoint> = store.points_with(FileKind::Operator).collect();
    let partials: Vec<EvolutionPoint> = store.points_with(FileKind::Partial).collect();
    let orphans: Vec<&EvolutionPoint> = partials.iter().filter(|p| !finals.contains(p)).collect();
    if !options.with_parts && !orphans.is_empty() {
        return Err(invalid(format!(
            "{dir}: {} hold a partial and no final operator (first: {}): an archive of final \
             operators would lack them; run `eko combine {dir}` first, or export the partials \
             and thresholds as eko parts (--with-parts)",
            if orphans.len() == 1 {
                "1 point".to_string()
            } else {
                format!("{} points", orphans.len())
            },
            orphans[0]
        )));
    }
    if finals.is_empty() && (partials.is_empty() || !options.with_parts) {
        return Err(invalid(format!(
            "{dir}: holds no final operator{}: nothing to export",
            if partials.is_empty() {
                " and no partial"
            } else {
                ""
            }
        )));
    }

    let mut items = Vec::new();
    // Recipes: every edge of every point's path, as eko's runner plans them.
    let mut recipes: BTreeMap<String, Item> = BTreeMap::new();
    let targets: BTreeSet<EvolutionPoint> = finals.iter().chain(&partials).copied().collect();
    for point in &targets {
        let path = EvolutionPath::new(metadata.origin, &metadata.matching, *point)?;
        for edge in path.elements() {
            let item = match edge {
                Edge::Segment(s) => Item {
                    dir: "recipes",
                    header: Header::Evolution {
                        origin: s.origin,
                        target: s.target,
                        nf: s.nf,
                        cliff: on_wall(metadata, s.target),
                    },
                    source: None,
                },
                Edge::Matching(m) => Item {
                    dir: "recipes/matching",
                    header: matching_header(&m),
                    source: None,
                },
            };
            recipes.insert(format!("{}/{}", item.dir, item.header.stem()), item);
        }
    }
    items.extend(recipes.into_values());

    if options.with_parts {
        let thresholds = store.thresholds()?;
        let edges: BTreeSet<Edge> = thresholds
            .as_ref()
            .map(|t| t.edges().collect())
            .unwrap_or_default();
        for point in &partials {
            let path = EvolutionPath::new(metadata.origin, &metadata.matching, *point)?;
            for edge in &path.thresholds {
                if !edges.contains(edge) {
                    return Err(invalid(format!(
                        "{dir}: cannot export the partial of {point} as an eko part: its path \
                         needs {edge} (thresholds.npz member {}), {}; export without \
                         --with-parts after `eko combine`, or add the thresholds",
                        edge.key(),
                        if thresholds.is_none() {
                            "and the store has no thresholds.npz"
                        } else {
                            "which thresholds.npz lacks"
                        }
                    )));
                }
            }
            let cliff = on_wall(metadata, path.partial.target);
            if cliff && edges.contains(&Edge::Segment(path.partial)) {
                // eko keeps one part for a cliff segment that is also a target's last segment:
                // the threshold member, which must then hold the same data.
                let t = thresholds.as_ref().expect("edges come from it");
                let edge = Edge::Segment(path.partial);
                let partial = store.partial(point)?;
                let partial_error = store.partial_error(point)?;
                let member = t.operator(&edge)?;
                let member_error = t.error(&edge)?;
                let same = same_bits(&partial.view(), &member.view())
                    && match (&partial_error, &member_error) {
                        (Some(a), Some(b)) => same_bits(&a.view(), &b.view()),
                        (None, None) => true,
                        _ => false,
                    };
                if !same {
                    return Err(invalid(format!(
                        "{dir}: the partial of {point} and thresholds.npz member {} are the same \
                         segment (an eko archive holds it once) with different data",
                        edge.key()
                    )));
                }
                continue;
            }
            items.push(Item {
                dir: "parts",
                header: Header::Evolution {
                    origin: path.partial.origin,
                    target: path.partial.target,
                    nf: path.partial.nf,
                    cliff,
                },
                source: Some(Source::Store(*point, FileKind::Partial)),
            });
        }
        // In the order of thresholds.npz's members, which an import of the archive keeps: the
        // store it gives back is then the same byte for byte.
        let mut ordered: Vec<Edge> = Vec::new();
        if thresholds.is_some() {
            let npz = crate::npz::NpzFile::open(store.thresholds_path())?;
            for member in npz.members() {
                let key = member
                    .key
                    .strip_suffix(crate::store::ERROR_SUFFIX)
                    .unwrap_or(&member.key);
                if let Some(edge) = Edge::from_key(key)
                    && edges.contains(&edge)
                    && !ordered.contains(&edge)
                {
                    ordered.push(edge);
                }
            }
        }
        for edge in &ordered {
            let (dir, header) = edge_header(edge);
            items.push(Item {
                dir,
                header,
                source: Some(Source::Threshold(*edge)),
            });
        }
    }
    for point in &finals {
        items.push(Item {
            dir: "operators",
            header: Header::Target {
                scale: point.mu2,
                nf: point.nf,
            },
            source: Some(Source::Store(*point, FileKind::Operator)),
        });
    }
    // Two headers with one stem in one inventory: eko could not tell their payloads apart.
    let mut seen = BTreeMap::new();
    for item in &items {
        if let Some(other) = seen.insert((item.dir, item.header.stem()), item.header) {
            return Err(invalid(format!(
                "{dir}: {other:?} and {:?} hash to the same eko stem {}: eko could not tell them \
                 apart",
                item.header,
                item.header.stem()
            )));
        }
    }
    Ok(items)
}

// ---------------------------------------------------------------------------------------------
// Cards.

fn card_error(store: &Store, reason: String) -> Error {
    Error::Metadata {
        file: Location::file(store.dir().join(crate::store::METADATA_FILE)),
        reason,
    }
}

/// Removes `key` from the object at `path` of `card`, refusing when missing.
fn take(
    card: &mut Value,
    name: &str,
    path: &[&str],
    key: &str,
) -> std::result::Result<Value, String> {
    let mut node = &mut *card;
    for p in path {
        node = node
            .get_mut(*p)
            .ok_or_else(|| format!("{name}.{} is missing", path.join(".")))?;
    }
    let full = path
        .iter()
        .chain([&key])
        .copied()
        .collect::<Vec<_>>()
        .join(".");
    node.as_object_mut()
        .ok_or_else(|| format!("{name}.{} is not a mapping", path.join(".")))?
        .remove(key)
        .ok_or_else(|| format!("{name}.{full} is missing"))
}

fn get<'a>(card: &'a Value, name: &str, path: &[&str]) -> std::result::Result<&'a Value, String> {
    let mut node = card;
    for p in path {
        node = node
            .get(*p)
            .ok_or_else(|| format!("{name}.{} is missing", path.join(".")))?;
    }
    Ok(node)
}

/// eko 0.15.7's conversion of an eko 0.13 (`v1`) or 0.14 (`v2`) theory card.
fn convert_theory(raw: &Value, v1: bool) -> std::result::Result<Value, String> {
    let mut card = raw.clone();
    let scale = take(&mut card, "theory", &["couplings"], "scale")?;
    let nf_ref = take(&mut card, "theory", &["couplings"], "num_flavs_ref")?;
    take(&mut card, "theory", &["couplings"], "max_num_flavs")?;
    card["couplings"]["ref"] = json!([scale, nf_ref]);
    if v1 {
        card["matching_order"] = json!([0, 0]);
    }
    for key in ["intrinsic_flavors", "num_flavs_init", "num_flavs_max_pdf"] {
        take(&mut card, "theory", &["heavy"], key)?;
    }
    if v1
        && let Some(object) = card.as_object_mut()
        && let Some(v) = object.remove("use_fhmv")
    {
        object.insert("use_fhmruvv".into(), v);
    }
    Ok(card)
}

/// eko 0.15.7's conversion of an eko 0.13 (`v1`) or 0.14 (`v2`) operator card, with the raw
/// (unconverted) theory card.
fn convert_operator(raw: &Value, theory: &Value, v1: bool) -> std::result::Result<Value, String> {
    let mut card = raw.clone();
    if v1 {
        get(&card, "operator", &["configs"])?;
        card["configs"]["n_integration_cores"] = json!(1);
    }
    let nf0 = get(theory, "theory", &["heavy", "num_flavs_init"])?.clone();
    let mu0 = take(&mut card, "operator", &[], "mu0")?;
    card["init"] = json!([mu0, nf0]);
    Ok(card)
}

/// The fields eko 0.15.7's `TheoryCard` and `OperatorCard` cannot do without.
const REQUIRED: [(&str, &[&str]); 20] = [
    ("theory", &["order"]),
    ("theory", &["couplings", "alphas"]),
    ("theory", &["couplings", "alphaem"]),
    ("theory", &["couplings", "ref"]),
    ("theory", &["heavy", "masses"]),
    ("theory", &["heavy", "masses_scheme"]),
    ("theory", &["heavy", "matching_ratios"]),
    ("theory", &["xif"]),
    ("theory", &["n3lo_ad_variation"]),
    ("operator", &["init"]),
    ("operator", &["mugrid"]),
    ("operator", &["xgrid"]),
    ("operator", &["configs", "evolution_method"]),
    ("operator", &["configs", "ev_op_max_order"]),
    ("operator", &["configs", "ev_op_iterations"]),
    ("operator", &["configs", "interpolation_polynomial_degree"]),
    ("operator", &["configs", "interpolation_is_log"]),
    ("operator", &["configs", "polarized"]),
    ("operator", &["configs", "time_like"]),
    ("operator", &["debug"]),
];

/// The theory and operator cards to write, and where they came from.
fn cards(store: &Store) -> Result<(Value, Value, String)> {
    let metadata = store.metadata();
    for (name, card) in [
        ("theory", &metadata.theory),
        ("operator", &metadata.operator),
    ] {
        if card.is_null() {
            return Err(card_error(
                store,
                format!(
                    "cannot export to eko: no {name} card ('{name}' is null: a store made by libeko's own API, not imported from eko): \
                     eko 0.15.7 needs theory.yaml and operator.yaml, whose physics settings \
                     (orders, couplings, masses, evolution method) the store does not record; \
                     export a store imported from an eko archive, or put eko's cards into \
                     metadata.json's 'theory' and 'operator'"
                ),
            ));
        }
        if !card.is_object() {
            return Err(card_error(
                store,
                format!("the {name} card is not a mapping, so not an eko card"),
            ));
        }
    }
    let (theory, operator, source) = if metadata.operator.get("init").is_some() {
        (
            metadata.theory.clone(),
            metadata.operator.clone(),
            "store".to_string(),
        )
    } else if metadata.operator.get("mu0").is_some() {
        let version = metadata
            .operator
            .get("eko_version")
            .and_then(Value::as_str)
            .unwrap_or("");
        let v1 = if version.starts_with("0.13.") {
            true
        } else if version.starts_with("0.14.") {
            false
        } else {
            return Err(card_error(
                store,
                format!(
                    "the operator card has eko 0.13/0.14's 'mu0' but operator.eko_version is \
                     {:?}, neither 0.13.x nor 0.14.x: eko 0.15.7 converts only those two layouts",
                    metadata.operator.get("eko_version").unwrap_or(&Value::Null)
                ),
            ));
        };
        let convert = || -> std::result::Result<(Value, Value), String> {
            Ok((
                convert_theory(&metadata.theory, v1)?,
                convert_operator(&metadata.operator, &metadata.theory, v1)?,
            ))
        };
        let (theory, operator) = convert().map_err(|e| {
            card_error(
                store,
                format!("cannot convert the eko {version} cards as eko 0.15.7 does: {e}"),
            )
        })?;
        (theory, operator, format!("converted from eko {version}"))
    } else {
        return Err(card_error(
            store,
            "the operator card has neither 'init' (eko 0.15) nor 'mu0' (eko 0.13/0.14): not an \
             eko operator card"
                .to_string(),
        ));
    };
    for (name, path) in REQUIRED {
        let card = if name == "theory" { &theory } else { &operator };
        if let Err(e) = get(card, name, path) {
            return Err(card_error(
                store,
                format!("{e}: eko 0.15.7 cannot read the {name} card without it"),
            ));
        }
    }
    Ok((theory, operator, source))
}

/// `metadata.yaml`.
fn metadata_yaml(metadata: &Metadata) -> String {
    let mut map = Map::new();
    map.insert("data_version".into(), json!(DATA_VERSION));
    map.insert(
        "origin".into(),
        json!([metadata.origin.mu2, metadata.origin.nf]),
    );
    map.insert("version".into(), json!(EKO_VERSION));
    map.insert("xgrid".into(), json!(metadata.xgrid));
    super::yaml::to_yaml(&Value::Object(map))
}

// ---------------------------------------------------------------------------------------------
// Payloads: npy and npz bytes as pieces, LZ4 frames.

/// The bytes of one array: `.npy` header and data (in the array's memory order).
fn npy_pieces<'a>(array: &'a ArrayView4<'a, f64>) -> (Vec<u8>, Cow<'a, [u8]>) {
    let fortran = !array.is_standard_layout() && array.t().is_standard_layout();
    let data: Cow<'a, [f64]> = match array.as_slice_memory_order() {
        Some(s) if array.is_standard_layout() || fortran => Cow::Borrowed(s),
        _ => Cow::Owned(array.iter().copied().collect()),
    };
    let shape = array.shape();
    let descr = if cfg!(target_endian = "little") {
        "<f8"
    } else {
        ">f8"
    };
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}, {}, {}), }}",
        if fortran { "True" } else { "False" },
        shape[0],
        shape[1],
        shape[2],
        shape[3]
    );
    // NumPy pads the header with spaces to a multiple of 64 bytes, ending in a newline.
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    while 10 + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    header.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    let bytes: Cow<'a, [u8]> = match data {
        Cow::Borrowed(s) => Cow::Borrowed(bytemuck::cast_slice(s)),
        Cow::Owned(v) => Cow::Owned(bytemuck::cast_slice(&v).to_vec()),
    };
    (header, bytes)
}

/// A payload: `.npy` (operator) or `.npz` (operator and error, stored members as `np.savez`).
fn payload_pieces<'a>(
    operator: &'a ArrayView4<'a, f64>,
    error: Option<&'a ArrayView4<'a, f64>>,
    at: &Location,
) -> Result<Vec<Cow<'a, [u8]>>> {
    let Some(error) = error else {
        let (header, data) = npy_pieces(operator);
        return Ok(vec![Cow::Owned(header), data]);
    };
    let mut pieces = Vec::new();
    let mut central = Vec::new();
    let mut offset = 0u64;
    for (name, array) in [("operator.npy", operator), ("error.npy", error)] {
        let (header, data) = npy_pieces(array);
        let size = (header.len() + data.len()) as u64;
        if size >= u64::from(u32::MAX) || offset >= u64::from(u32::MAX) {
            return Err(invalid(format!(
                "{at}: a {size}-byte operator does not fit a zip member without zip64, which \
                 libeko does not write"
            )));
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&data);
        let crc = crc.finalize();
        let size = size as u32;
        // DOS time 00:00, date 1980-01-01.
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&0u16.to_le_bytes()); // stored
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&0x21u16.to_le_bytes()); // date
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        let mut local = 0x0403_4b50u32.to_le_bytes().to_vec();
        common(&mut local);
        local.extend_from_slice(name.as_bytes());
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // external
        central.extend_from_slice(&(offset as u32).to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        offset += local.len() as u64 + u64::from(size);
        pieces.push(Cow::Owned(local));
        pieces.push(Cow::Owned(header));
        pieces.push(data);
    }
    if offset >= u64::from(u32::MAX) {
        return Err(invalid(format!(
            "{at}: a {offset}-byte npz does not fit a zip without zip64, which libeko does not \
             write"
        )));
    }
    let mut end = 0x0605_4b50u32.to_le_bytes().to_vec();
    end.extend_from_slice(&[0, 0, 0, 0]); // disk numbers
    end.extend_from_slice(&2u16.to_le_bytes());
    end.extend_from_slice(&2u16.to_le_bytes());
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&(offset as u32).to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    central.extend_from_slice(&end);
    pieces.push(Cow::Owned(central));
    Ok(pieces)
}

/// The LZ4 frame header: independent 1 MiB blocks, no checksums (as lz4_flex writes it).
fn frame_header() -> Vec<u8> {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    let info = FrameInfo::new()
        .block_size(BlockSize::Max1MB)
        .block_mode(BlockMode::Independent);
    let empty = FrameEncoder::with_frame_info(info, Vec::new())
        .finish()
        .expect("an empty frame");
    // magic (4), FLG, BD, HC; then the end mark.
    assert_eq!(
        empty.len(),
        11,
        "an empty LZ4 frame is a 7-byte header and the end mark"
    );
    empty[..7].to_vec()
}

/// One frame block of `raw`: its 4-byte size (high bit: stored) and data.
fn frame_block(raw: &[u8], compression: Compression) -> Vec<u8> {
    if compression == Compression::Lz4 {
        let mut out = vec![0u8; 4 + lz4_flex::block::get_maximum_output_size(raw.len())];
        if let Ok(n) = lz4_flex::block::compress_into(raw, &mut out[4..])
            && n < raw.len()
        {
            out[..4].copy_from_slice(&(n as u32).to_le_bytes());
            out.truncate(4 + n);
            return out;
        }
    }
    let mut out = Vec::with_capacity(4 + raw.len());
    out.extend_from_slice(&(raw.len() as u32 | 0x8000_0000).to_le_bytes());
    out.extend_from_slice(raw);
    out
}

/// Cuts the concatenation of `pieces` into blocks of [`BLOCK`] bytes (borrowed when a block
/// lies within one piece).
fn blocks<'a>(pieces: &'a [Cow<'a, [u8]>]) -> impl Iterator<Item = Cow<'a, [u8]>> + 'a {
    let mut piece = 0;
    let mut at = 0;
    std::iter::from_fn(move || {
        while piece < pieces.len() && at == pieces[piece].len() {
            piece += 1;
            at = 0;
        }
        if piece == pieces.len() {
            return None;
        }
        let rest = &pieces[piece][at..];
        if rest.len() >= BLOCK {
            at += BLOCK;
            return Some(Cow::Borrowed(&rest[..BLOCK]));
        }
        let mut block = Vec::with_capacity(BLOCK);
        while block.len() < BLOCK && piece < pieces.len() {
            let rest = &pieces[piece][at..];
            let take = rest.len().min(BLOCK - block.len());
            block.extend_from_slice(&rest[..take]);
            at += take;
            if at == pieces[piece].len() {
                piece += 1;
                at = 0;
            }
        }
        Some(Cow::Owned(block))
    })
}

// ---------------------------------------------------------------------------------------------
// The tar stream.

/// What the writer thread is asked to write.
enum Message {
    /// A directory entry.
    Dir(String),
    /// A small file, whole.
    File(String, Vec<u8>),
    /// A member of unknown size begins (its header is patched at `End`).
    Begin(String),
    /// Bytes of the current member.
    Chunk(Vec<u8>),
    /// The current member ends.
    End,
}

/// A ustar header.
fn tar_header(name: &str, size: u64, directory: bool, mtime: u64) -> std::io::Result<[u8; 512]> {
    let mut h = [0u8; 512];
    if name.len() > 100 {
        return Err(std::io::Error::other(format!(
            "member name {name} longer than 100 bytes"
        )));
    }
    if size >= 1 << 33 {
        return Err(std::io::Error::other(format!(
            "member {name} of {size} bytes: larger than a ustar header records"
        )));
    }
    let octal = |field: &mut [u8], value: u64| {
        let width = field.len() - 1;
        let text = format!("{value:0width$o}");
        field[..width].copy_from_slice(text.as_bytes());
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], if directory { 0o755 } else { 0o644 });
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = if directory { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    Ok(h)
}

/// The writer thread: writes members as they come; returns the archive's size.
fn write_tar(file: &mut File, messages: Receiver<Message>, mtime: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut pos = 0u64;
    let mut current: Option<(String, u64, u64)> = None; // name, header position, size
    let pad = |out: &mut BufWriter<&mut File>, size: u64| -> std::io::Result<u64> {
        let padding = (512 - size % 512) % 512;
        out.write_all(&vec![0u8; padding as usize])?;
        Ok(padding)
    };
    for message in messages {
        match message {
            Message::Dir(name) => {
                out.write_all(&tar_header(&name, 0, true, mtime)?)?;
                pos += 512;
            }
            Message::File(name, bytes) => {
                out.write_all(&tar_header(&name, bytes.len() as u64, false, mtime)?)?;
                out.write_all(&bytes)?;
                pos += 512 + bytes.len() as u64;
                pos += pad(&mut out, bytes.len() as u64)?;
            }
            Message::Begin(name) => {
                out.write_all(&[0u8; 512])?;
                current = Some((name, pos, 0));
                pos += 512;
            }
            Message::Chunk(bytes) => {
                out.write_all(&bytes)?;
                pos += bytes.len() as u64;
                if let Some(c) = current.as_mut() {
                    c.2 += bytes.len() as u64;
                }
            }
            Message::End => {
                let (name, at, size) = current.take().expect("End follows Begin");
                pos += pad(&mut out, size)?;
                out.seek(SeekFrom::Start(at))?;
                out.write_all(&tar_header(&name, size, false, mtime)?)?;
                out.seek(SeekFrom::Start(pos))?;
                // The member is complete: the disk writes it while the next is compressed,
                // instead of all at the commit's fsync.
                out.flush()?;
                crate::atomic::start_writeback(out.get_ref());
            }
        }
    }
    // End of archive: two zero blocks.
    out.write_all(&[0u8; 1024])?;
    pos += 1024;
    out.flush()?;
    Ok(pos)
}

/// Sends `message` to the writer; a closed channel means the writer failed (its error is
/// reported when joined).
fn send(tx: &SyncSender<Message>, message: Message) -> bool {
    tx.send(message).is_ok()
}

/// The number of compressing threads.
fn thread_count(options: &ExportOptions) -> usize {
    if options.threads > 0 {
        options.threads
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4)
    }
}

/// Streams one payload as an LZ4 frame member; returns the payload's uncompressed size.
fn stream_payload(
    tx: &SyncSender<Message>,
    name: String,
    pieces: &[Cow<'_, [u8]>],
    compression: Compression,
    threads: usize,
) -> Option<u64> {
    let size: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    if !send(tx, Message::Begin(name)) || !send(tx, Message::Chunk(frame_header())) {
        return None;
    }
    let mut blocks = blocks(pieces).peekable();
    while blocks.peek().is_some() {
        let batch: Vec<Cow<'_, [u8]>> = blocks.by_ref().take(threads).collect();
        let compressed: Vec<Vec<u8>> = if batch.len() == 1 || compression == Compression::None {
            batch.iter().map(|b| frame_block(b, compression)).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = batch[1..]
                    .iter()
                    .map(|b| scope.spawn(move || frame_block(b, compression)))
                    .collect();
                let mut out = vec![frame_block(&batch[0], compression)];
                out.extend(
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("compression does not panic")),
                );
                out
            })
        };
        for block in compressed {
            if !send(tx, Message::Chunk(block)) {
                return None;
            }
        }
    }
    if !send(tx, Message::Chunk(vec![0, 0, 0, 0])) || !send(tx, Message::End) {
        return None;
    }
    Some(size)
}

/// Refuses a destination inside the store or (unless `overwrite`) an existing one.
fn check_destination(store: &Store, out: &Path, overwrite: bool) -> Result<()> {
    let location = Location::file(out);
    crate::store::check_outside_store(out)?;
    let parent = crate::store::parent_dir(out);
    if let (Ok(parent), Ok(dir)) = (parent.canonicalize(), store.dir().canonicalize())
        && parent.starts_with(&dir)
    {
        return Err(Error::InsideStore {
            file: location,
            store: store.dir().to_path_buf(),
        });
    }
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => Err(Error::Io {
            file: location,
            operation: "export",
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "is a directory; give the archive's file name (OUT.tar)",
            ),
        }),
        Ok(_) if !overwrite => Err(Error::Io {
            file: location,
            operation: "export",
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the file exists: remove it, or pass --overwrite (ExportOptions::overwrite, Python overwrite=True) to replace it; from C, remove it first",
            ),
        }),
        _ => Ok(()),
    }
}

/// Writes the store as an eko 0.15 archive at `out` (see the module documentation). `progress`
/// is called after each payload written. On error nothing is left at `out` (an existing file
/// there is untouched) or beside it.
pub fn export(
    store: &Store,
    out: &Path,
    options: &ExportOptions,
    mut progress: impl FnMut(ExportProgress),
) -> Result<ExportReport> {
    let metadata = store.metadata();
    check_destination(store, out, options.overwrite)?;
    if metadata.is_reshaped() {
        return Err(Error::Reshaped {
            file: Location::file(store.dir()),
            shape: metadata.operator_shape(),
            what: "an eko 0.15 archive (it records one x grid and no pids, and eko.EKO.read \
                   refuses non-square operators)",
        });
    }
    if metadata.pids != FLAVOR_BASIS {
        return Err(card_error(
            store,
            format!(
                "pids {:?} are not eko's flavour basis {FLAVOR_BASIS:?}, the only basis an eko \
                 0.15 archive can hold",
                metadata.pids
            ),
        ));
    }
    let (theory, operator, cards_source) = cards(store)?;
    let items = plan(store, options)?;
    let total = items.iter().filter(|i| i.source.is_some()).count();
    let threads = thread_count(options);
    // Reproducible: the same store exports to the same bytes. Members carry SOURCE_DATE_EPOCH
    // (the reproducible-builds convention) when set, else 0 (1970), not the time of the export.
    let mtime = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);

    crate::atomic::remove_dead_for(out)?;
    let mut pending = crate::atomic::PendingFile::create(out)?;
    let location = pending.location().clone();
    let thresholds = if options.with_parts {
        store.thresholds()?
    } else {
        None
    };
    let mut report = ExportReport {
        store: store.dir().to_path_buf(),
        archive: out.to_path_buf(),
        operators: 0,
        partials: 0,
        thresholds: 0,
        recipes: 0,
        cards: cards_source,
        compression: options.compression,
        payload_bytes: 0,
        archive_bytes: 0,
    };

    let (tx, rx) = sync_channel::<Message>(IN_FLIGHT);
    let file = pending.file();
    let written = std::thread::scope(|scope| -> Result<u64> {
        let writer = scope.spawn(move || write_tar(file, rx, mtime));
        let produced = (|| -> Result<bool> {
            let small = [
                ("./metadata.yaml", metadata_yaml(metadata)),
                ("./theory.yaml", super::yaml::to_yaml(&theory)),
                ("./operator.yaml", super::yaml::to_yaml(&operator)),
            ];
            if !send(&tx, Message::Dir("./".into())) {
                return Ok(false);
            }
            for (name, text) in small {
                if !send(&tx, Message::File(name.into(), text.into_bytes())) {
                    return Ok(false);
                }
            }
            let mut done = 0;
            let mut dirs_written = BTreeSet::new();
            for dir in [
                "recipes",
                "recipes/matching",
                "parts",
                "parts/matching",
                "operators",
            ] {
                if !send(&tx, Message::Dir(format!("./{dir}/"))) {
                    return Ok(false);
                }
                dirs_written.insert(dir);
                for item in items.iter().filter(|i| i.dir == dir) {
                    let stem = item.header.stem();
                    let header = Message::File(
                        format!("./{dir}/{stem}.yaml"),
                        item.header.yaml().into_bytes(),
                    );
                    if !send(&tx, header) {
                        return Ok(false);
                    }
                    let Some(source) = item.source else {
                        report.recipes += 1;
                        continue;
                    };
                    let at = Location::member(out, format!("{dir}/{stem}"));
                    // The arrays are borrowed from what holds them: the store's maps or the
                    // thresholds' members.
                    let stored;
                    let edge_arrays;
                    let (main, error) = match source {
                        Source::Store(point, kind) => {
                            stored = match kind {
                                FileKind::Partial => {
                                    report.partials += 1;
                                    (store.partial(&point)?, store.partial_error(&point)?)
                                }
                                _ => {
                                    report.operators += 1;
                                    (store.operator(&point)?, store.operator_error(&point)?)
                                }
                            };
                            (stored.0.view(), stored.1.as_ref().map(|e| e.view()))
                        }
                        Source::Threshold(edge) => {
                            report.thresholds += 1;
                            let t = thresholds.as_ref().expect("planned from it");
                            let main: CowArray<'_, f64, Ix4> = t.operator(&edge)?;
                            edge_arrays = (main, t.error(&edge)?);
                            (
                                edge_arrays.0.view(),
                                edge_arrays.1.as_ref().map(|e| e.view()),
                            )
                        }
                    };
                    let sent = send_payload(
                        &tx,
                        dir,
                        &stem,
                        &main,
                        error.as_ref(),
                        options,
                        threads,
                        &at,
                    )?;
                    let Some(bytes) = sent else {
                        return Ok(false);
                    };
                    report.payload_bytes += bytes;
                    crate::fault::fault_point!("export.payload");
                    done += 1;
                    progress(ExportProgress { done, total });
                }
            }
            Ok(true)
        })();
        drop(tx);
        let written = writer.join().expect("the tar writer does not panic");
        let size = written.io_context(&location, "write the archive")?;
        produced?;
        Ok(size)
    })?;
    report.archive_bytes = written;
    crate::fault::fault_point!("export.rename-into-place");
    if options.overwrite {
        pending.commit()?;
    } else {
        pending.commit_new()?;
    }
    Ok(report)
}

/// Streams one item's payload (`.npy.lz4` or `.npz.lz4`); `None` when the writer has stopped.
#[allow(clippy::too_many_arguments)]
fn send_payload(
    tx: &SyncSender<Message>,
    dir: &str,
    stem: &str,
    operator: &ArrayView4<'_, f64>,
    error: Option<&ArrayView4<'_, f64>>,
    options: &ExportOptions,
    threads: usize,
    at: &Location,
) -> Result<Option<u64>> {
    let pieces = payload_pieces(operator, error, at)?;
    let ext = if error.is_some() { "npz" } else { "npy" };
    Ok(stream_payload(
        tx,
        format!("./{dir}/{stem}.{ext}.lz4"),
        &pieces,
        options.compression,
        threads,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn hashes_are_pythons() {
        // Values checked against CPython 3.11: hash(x) and hash(tuple).
        assert_eq!(hash_float(1.0), 1);
        assert_eq!(hash_float(0.5), 1 << 60);
        assert_eq!(hash_float(-1.0), -2);
        assert_eq!(hash_float(1e300), hash_float(1e300));
        assert_eq!(hash_tuple(&[]), 5_740_354_900_026_072_187);
        assert_eq!(stem_of_hash(0), "AAAAAAAAAAA=");
    }

    #[test]
    fn frames_decode() {
        let data: Vec<u8> = (0..3 * BLOCK + 123).map(|i| (i * 7 % 251) as u8).collect();
        let pieces = [Cow::Borrowed(&data[..10]), Cow::Borrowed(&data[10..])];
        for compression in [Compression::Lz4, Compression::None] {
            let mut frame = frame_header();
            for b in blocks(&pieces) {
                frame.extend(frame_block(&b, compression));
            }
            frame.extend([0, 0, 0, 0]);
            let mut back = Vec::new();
            lz4_flex::frame::FrameDecoder::new(&frame[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data, "{compression:?}");
        }
    }
}
