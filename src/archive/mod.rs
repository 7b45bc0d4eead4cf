//! Python eko's output archives (`.tar`): import into a store. Every layout still in use is read:
//!
//! | eko | `metadata.yaml` | x grid | cards |
//! |---|---|---|---|
//! | 0.15 | `data_version: 3` | `xgrid` | `theory.yaml`, `operator.yaml` (0.15's) |
//! | 0.13, 0.14 | `data_version: 1` (`version` tells them apart) | `bases.xgrid`, with `targetgrid`, `inputgrid`, `targetpids`, `inputpids` | 0.13's and 0.14's own (`mu0`, `num_flavs_init`, ...) |
//! | 0.8 | in a directory of its own, no `data_version` | `interpolation_xgrid`, `targetgrid`, ... | none; `q2_ref`, `Q2grid`, no nf |
//!
//! An eko 0.13+ archive is a plain tar holding `metadata.yaml` (`origin: [mu0², nf0]`, the grid,
//! `version`), the `theory.yaml` and `operator.yaml` cards, and inventories of items:
//!
//! ```text
//! operators/        final operators            header {scale: mu², nf}
//! parts/            evolution segments         header {origin, target, nf, cliff}
//! parts/matching/   matching operators         header {scale, hq, inverse}
//! recipes/, recipes/matching/                  headers only (the plan)
//! ```
//!
//! Each item is `<stem>.yaml` (its header) and `<stem>.npy.lz4` (operator only) or `<stem>.npz.lz4`
//! (an npz with `operator` and `error`), each one LZ4 frame. Stems are hashes: the headers are the
//! index, the stem only pairs a header with its payload.
//!
//! [`import`] maps them onto a store:
//! - final operators become `{mu2}_nf{nf}.npy` (and `.error.npy`);
//! - evolution parts ending on a matching scale (`cliff`) and matchings go to `thresholds.npz`,
//!   as the segment and matching edges of libeko's paths;
//! - other evolution parts are the partials of their targets (`.part.npy`), unless the archive
//!   already holds that target's final operator (then they are skipped and counted). A target of
//!   the operator card with neither gets its partial from the cliff part ending on it, if any;
//! - `theory.yaml` and `operator.yaml` become the store metadata's `theory` and `operator` as
//!   they are, in the layout of the eko that wrote them (YAML read into JSON; `.nan` and `.inf`
//!   kept as the strings `".nan"`, `".inf"`); the interpolation is the operator card's
//!   `configs.interpolation_polynomial_degree` and `configs.interpolation_is_log` (the same
//!   fields in 0.13, 0.14 and 0.15).
//!
//! The matching scales are those of the matching headers (`parts/matching`, `recipes/matching`);
//! a quark with none gets `(ratio · mass)²` from a pole-mass theory card (`heavy.masses`,
//! `heavy.matching_ratios`, the same fields in 0.13 to 0.15), or no scale.
//!
//! An eko 0.13 or 0.14 archive whose operators that eko reshaped (`manipulate.xgrid_reshape`,
//! `to_evol`: `bases.targetgrid`/`inputgrid` or `targetpids`/`inputpids` set) becomes a reshaped
//! store: the computed grid is `bases.xgrid` in eko's flavour basis, the output and input sides
//! are the target and input ones, pids given as eko's evolution rotation matrix (what `to_evol`
//! records) are the evolution basis. Sides whose pids eko dropped (all 0, after a
//! `flavor_reshape` by a custom matrix) are refused. The parts of a reshaped archive stay out
//! (square, they belong to no reshaped store) and are counted as skipped. eko 0.15.7 itself no
//! longer reads such archives.
//!
//! An eko 0.8 archive (`<name>/metadata.yaml`, `<name>/operators.npy.lz4`, and
//! `operator_errors.npy.lz4`: one rank-5 array `(n_q2, ...)` each) records no nf: it is imported
//! only with [`ImportOptions::nf`], which becomes every point's and the origin's nf. Its
//! `metadata.yaml` becomes the store's `operator` description; its sides (`targetgrid`,
//! `targetpids`, ...) are read as for 0.13. No matching scales are known.
//!
//! Import streams, and decompresses on a thread of its own: the archive is read twice (headers,
//! then payloads, skipping what is not needed); a reader thread decodes each payload's LZ4 frame
//! straight into aligned memory (the `.npy` headers checked before anything is allocated,
//! refused beyond the size an operator and its error can take), while the previous payload is
//! written to the store, so memory holds two payloads whatever the archive's size. The store is
//! built under a temporary name beside the destination and renamed into place when complete: on
//! any error nothing is left.

pub mod export;
mod legacy;
mod stream;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, IoContext, Location, Result};
use crate::store::{
    Edge, EvolutionPath, EvolutionPoint, FLAVOR_BASIS, Interpolation, MatchingScales, Metadata,
    Segment, Store,
};

use self::legacy::Member;
use self::stream::Decoded;

/// The oldest `data_version` read: 1, written by eko 0.13 and 0.14 (eko 0.15 writes 3; eko 0.8's
/// layout has none and is told apart by its shape).
pub const MIN_DATA_VERSION: i64 = 1;
/// Largest YAML file read (cards and headers).
const MAX_YAML: u64 = 16 << 20;

/// The inventories of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Inventory {
    Operators,
    Parts,
    PartsMatching,
    Recipes,
    RecipesMatching,
}

impl Inventory {
    /// Every inventory with its directory in the archive.
    const ALL: [(Inventory, &'static str); 5] = [
        (Inventory::Operators, "operators"),
        (Inventory::Parts, "parts"),
        (Inventory::PartsMatching, "parts/matching"),
        (Inventory::Recipes, "recipes"),
        (Inventory::RecipesMatching, "recipes/matching"),
    ];

    fn of(dir: &str) -> Option<Inventory> {
        Self::ALL.iter().find(|(_, d)| *d == dir).map(|(i, _)| *i)
    }

    fn dir(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(i, _)| *i == self)
            .map(|(_, d)| *d)
            .expect("every inventory is listed")
    }
}

/// What a payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// `.npy.lz4`: the operator.
    Npy,
    /// `.npz.lz4`: operator and error.
    Npz,
}

/// An archive entry's role, from its path.
enum EntryKind {
    Card(&'static str),
    Header(Inventory, String),
    Payload(Inventory, String, Payload),
    /// A file one directory deep outside the inventories: eko 0.8's layout, `(dir, name)`.
    Nested(String, String),
    Other,
}

/// The archive-relative path of an entry, without `./`, or `None` for directories and links.
fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Option<String> {
    if !entry.header().entry_type().is_file() {
        return None;
    }
    let path = entry.path().ok()?;
    let text = path.to_str()?.trim_start_matches("./").to_string();
    Some(text)
}

fn kind_of(path: &str) -> EntryKind {
    match path {
        "metadata.yaml" => return EntryKind::Card("metadata"),
        "theory.yaml" => return EntryKind::Card("theory"),
        "operator.yaml" => return EntryKind::Card("operator"),
        _ => {}
    }
    let Some((dir, name)) = path.rsplit_once('/') else {
        return EntryKind::Other;
    };
    let Some(inventory) = Inventory::of(dir) else {
        return if dir.contains('/') {
            EntryKind::Other
        } else {
            EntryKind::Nested(dir.to_string(), name.to_string())
        };
    };
    if let Some(stem) = name.strip_suffix(".yaml") {
        EntryKind::Header(inventory, stem.to_string())
    } else if let Some(stem) = name.strip_suffix(".npy.lz4") {
        EntryKind::Payload(inventory, stem.to_string(), Payload::Npy)
    } else if let Some(stem) = name.strip_suffix(".npz.lz4") {
        EntryKind::Payload(inventory, stem.to_string(), Payload::Npz)
    } else {
        EntryKind::Other
    }
}

/// What an item becomes in the store.
#[derive(Debug, Clone, Copy)]
enum Role {
    Operator(EvolutionPoint),
    Partial(EvolutionPoint),
    Threshold(Edge),
}

/// What [`import`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The archive read.
    pub archive: PathBuf,
    /// The store written.
    pub store: PathBuf,
    /// The eko version that wrote the archive (`metadata.yaml`'s `version`).
    pub eko_version: String,
    /// Its `data_version`.
    pub data_version: i64,
    /// Final operators imported.
    pub operators: Vec<EvolutionPoint>,
    /// Partials imported.
    pub partials: Vec<EvolutionPoint>,
    /// Threshold operators imported into `thresholds.npz` (their keys).
    pub thresholds: Vec<String>,
    /// Evolution parts not imported because their target's final operator was (headers).
    pub skipped_parts: usize,
    /// Archive entries that are not part of eko's layout (ignored).
    pub ignored_entries: Vec<String>,
    /// Payload bytes decompressed.
    pub bytes_decompressed: u64,
}

/// Import progress: payloads done of the total to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    /// Payloads written.
    pub done: usize,
    /// Payloads to write.
    pub total: usize,
}

pub(super) fn bad(file: &Location, reason: impl Into<String>) -> Error {
    Error::EkoArchive {
        file: file.clone(),
        reason: reason.into(),
    }
}

/// Reads a header's field as a number (YAML integers count).
fn number(header: &Value, key: &str, at: &Location) -> Result<f64> {
    match header.get(key) {
        Some(v) if v.is_number() => Ok(v.as_f64().expect("a number")),
        Some(v) => Err(bad(at, format!("'{key}' is {v}, not a number"))),
        None => Err(bad(at, format!("no '{key}' field"))),
    }
}

fn integer(header: &Value, key: &str, at: &Location) -> Result<i64> {
    header
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| bad(at, format!("'{key}' is missing or not an integer")))
}

fn nf_of(value: i64, at: &Location) -> Result<u8> {
    u8::try_from(value).ok().filter(|n| *n <= 6).ok_or_else(|| {
        bad(
            at,
            format!("nf = {value} is not a number of flavours (0..6)"),
        )
    })
}

/// The headers and cards of an archive (pass 1).
struct Index {
    cards: BTreeMap<&'static str, Value>,
    headers: BTreeMap<(Inventory, String), Value>,
    payloads: BTreeMap<(Inventory, String), Payload>,
    ignored: Vec<String>,
    /// Files one directory deep (eko 0.8's layout): per directory, `metadata.yaml` parsed and
    /// the `.npy.lz4` arrays by stem.
    nested: BTreeMap<String, Nested>,
}

/// A directory of eko 0.8's layout.
#[derive(Default)]
struct Nested {
    metadata: Option<Value>,
    arrays: BTreeMap<String, Member>,
    others: Vec<String>,
}

fn open_archive(path: &Path) -> Result<tar::Archive<File>> {
    let location = Location::file(path);
    let mut file = File::open(path).io_context(&location, "open")?;
    let mut magic = [0u8; 512];
    let n = read_up_to(&mut file, &mut magic).io_context(&location, "read")?;
    if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        return Err(bad(
            &location,
            "is gzip-compressed; eko writes plain .tar archives: decompress it first (gunzip)",
        ));
    }
    if n < 512 || &magic[257..262] != b"ustar" {
        return Err(bad(&location, "not a tar archive, so not an eko output"));
    }
    file.rewind().io_context(&location, "seek")?;
    Ok(tar::Archive::new(file))
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Maps tar errors to the archive.
fn tar_error(location: &Location, e: std::io::Error) -> Error {
    bad(location, format!("unreadable tar archive: {e}"))
}

fn read_index(path: &Path) -> Result<Index> {
    let location = Location::file(path);
    let mut archive = open_archive(path)?;
    let mut index = Index {
        cards: BTreeMap::new(),
        headers: BTreeMap::new(),
        payloads: BTreeMap::new(),
        ignored: Vec::new(),
        nested: BTreeMap::new(),
    };
    let mut yaml_bytes = 0u64;
    let file_len = std::fs::metadata(path).io_context(&location, "stat")?.len();
    let mut end = 0u64;
    for entry in archive
        .entries_with_seek()
        .map_err(|e| tar_error(&location, e))?
    {
        let mut entry = entry.map_err(|e| tar_error(&location, e))?;
        let data_end = entry.raw_file_position().saturating_add(entry.size());
        if data_end > file_len {
            return Err(bad(
                &location,
                format!(
                    "truncated: member {} runs past the end of the {file_len}-byte file",
                    entry.path().map_or("?".into(), |p| p.display().to_string())
                ),
            ));
        }
        end = data_end.div_ceil(512) * 512;
        let Some(name) = entry_path(&entry) else {
            continue;
        };
        let at = Location::member(path, name.clone());
        let mut read_yaml = |entry: &mut tar::Entry<'_, File>| -> Result<Value> {
            let size = entry.size();
            yaml_bytes = yaml_bytes.saturating_add(size);
            if size > MAX_YAML || yaml_bytes > 16 * MAX_YAML {
                return Err(bad(&at, format!("{size}-byte YAML file: too large")));
            }
            let mut text = String::new();
            entry
                .take(MAX_YAML)
                .read_to_string(&mut text)
                .map_err(|e| bad(&at, format!("not UTF-8 text: {e}")))?;
            yaml::parse(&text).map_err(|reason| bad(&at, reason))
        };
        match kind_of(&name) {
            EntryKind::Card(card) => {
                let value = read_yaml(&mut entry)?;
                index.cards.insert(card, value);
            }
            EntryKind::Header(inventory, stem) => {
                let value = read_yaml(&mut entry)?;
                if !value.is_object() {
                    return Err(bad(&at, "a header must be a YAML mapping"));
                }
                index.headers.insert((inventory, stem), value);
            }
            EntryKind::Payload(inventory, stem, payload) => {
                index.payloads.insert((inventory, stem), payload);
            }
            EntryKind::Nested(dir, file) => {
                if file == "metadata.yaml" {
                    let value = read_yaml(&mut entry)?;
                    index.nested.entry(dir).or_default().metadata = Some(value);
                } else if let Some(stem) = file.strip_suffix(".npy.lz4") {
                    let member = Member {
                        name: name.clone(),
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    };
                    index
                        .nested
                        .entry(dir)
                        .or_default()
                        .arrays
                        .insert(stem.to_string(), member);
                } else {
                    index.nested.entry(dir).or_default().others.push(name);
                }
            }
            EntryKind::Other => index.ignored.push(name),
        }
    }
    // A complete archive ends with two zero blocks after its last member.
    let mut file = archive.into_inner();
    let mut marker = [1u8; 1024];
    let ok = file.seek(std::io::SeekFrom::Start(end)).is_ok()
        && read_up_to(&mut file, &mut marker).is_ok_and(|n| n == marker.len())
        && marker.iter().all(|b| *b == 0);
    if !ok {
        return Err(bad(
            &location,
            "truncated: the tar archive stops without its end-of-archive marker",
        ));
    }
    Ok(index)
}

/// The store metadata of an eko 0.13+ archive: origin and x grid (and, for 0.13 and 0.14, the
/// operators' sides) from `metadata.yaml`, matching scales from the matching headers or the
/// theory card.
fn metadata_of(path: &Path, index: &Index) -> Result<(Metadata, String, i64)> {
    let at = Location::member(path, "metadata.yaml");
    let meta = index.cards.get("metadata").ok_or_else(|| {
        bad(
            &Location::file(path),
            "not an eko output: no metadata.yaml at the archive's root",
        )
    })?;
    let data_version = integer(meta, "data_version", &at)?;
    let version = meta
        .get("version")
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .unwrap_or_default();
    let minor = version
        .strip_prefix("0.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    let bases = meta.get("bases").filter(|b| b.is_object());
    let (xgrid, sides) = match data_version {
        3 => {
            let grid = match meta.get("xgrid") {
                Some(Value::Object(o)) => o.get("grid"),
                other => other,
            };
            let xgrid = grid
                .and_then(Value::as_array)
                .ok_or_else(|| bad(&at, "'xgrid' must be a list of numbers"))?
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| bad(&at, format!("xgrid value {v} is not a number")))
                })
                .collect::<Result<Vec<f64>>>()?;
            (xgrid, None)
        }
        // eko 0.13 and 0.14 (and eko 0.13's conversion of a 0.8 archive, data_version 0): the
        // grids under `bases`.
        0 | 1 if bases.is_some() && (data_version == 0 || matches!(minor, Some(13 | 14))) => {
            let (xgrid, output, input) =
                legacy::grids_and_sides(bases.expect("checked"), "xgrid", &at)?;
            (xgrid, Some((output, input)))
        }
        1 => {
            return Err(bad(
                &at,
                format!(
                    "data_version 1 from eko {version:?}: libeko imports data_version 1 as eko \
                     0.13 and 0.14 write it (grids under 'bases', version 0.13.x or 0.14.x{}), \
                     as eko 0.15.7 reads it",
                    if bases.is_none() {
                        "; this one has no 'bases'"
                    } else {
                        ""
                    }
                ),
            ));
        }
        _ => {
            return Err(bad(
                &at,
                format!(
                    "data_version {data_version} (eko {version:?}) is not a layout libeko \
                     imports: eko 0.15 writes 3, eko 0.13 and 0.14 write 1, eko 0.8 writes none \
                     (its metadata.yaml is in a directory of its own)"
                ),
            ));
        }
    };
    let origin = meta
        .get("origin")
        .and_then(Value::as_array)
        .filter(|o| o.len() == 2)
        .ok_or_else(|| bad(&at, "'origin' must be [mu0², nf0]"))?;
    let mu2 = origin[0]
        .as_f64()
        .ok_or_else(|| bad(&at, "origin mu0² is not a number"))?;
    let nf = origin[1]
        .as_i64()
        .ok_or_else(|| bad(&at, "origin nf0 is missing or not an integer"))?;
    let origin =
        EvolutionPoint::new(mu2, nf_of(nf, &at)?).map_err(|e| bad(&at, format!("origin: {e}")))?;

    let mut scales: [Option<f64>; 3] = [None; 3];
    for ((inventory, stem), header) in &index.headers {
        if !matches!(
            inventory,
            Inventory::PartsMatching | Inventory::RecipesMatching
        ) {
            continue;
        }
        let at = header_location(path, *inventory, stem);
        let scale = number(header, "scale", &at)?;
        let hq = integer(header, "hq", &at)?;
        let slot = match hq {
            4..=6 => &mut scales[(hq - 4) as usize],
            _ => {
                return Err(bad(
                    &at,
                    format!("hq = {hq} is not a heavy quark (4, 5 or 6)"),
                ));
            }
        };
        match slot {
            Some(s) if s.to_bits() != scale.to_bits() => {
                return Err(bad(
                    &at,
                    format!("matching scale {scale} for hq = {hq}, another header says {s}"),
                ));
            }
            _ => *slot = Some(scale),
        }
    }
    if let Some(theory) = index.cards.get("theory") {
        let pole = theory
            .pointer("/heavy/masses_scheme")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("pole"));
        for (i, slot) in scales.iter_mut().enumerate() {
            if slot.is_some() || !pole {
                continue;
            }
            let mass = theory
                .pointer(&format!("/heavy/masses/{i}/0"))
                .or_else(|| theory.pointer(&format!("/heavy/masses/{i}")))
                .and_then(Value::as_f64);
            let ratio = theory
                .pointer(&format!("/heavy/matching_ratios/{i}"))
                .and_then(Value::as_f64);
            if let (Some(m), Some(r)) = (mass, ratio)
                && (r * m).is_finite()
                && r * m > 0.0
            {
                // eko: matching_ratios**2 * masses**2.
                *slot = Some((r * r) * (m * m));
            }
        }
    }
    let mut metadata = Metadata::new(
        origin,
        xgrid,
        FLAVOR_BASIS.to_vec(),
        MatchingScales {
            charm: scales[0],
            bottom: scales[1],
            top: scales[2],
        },
    );
    metadata.theory = index.cards.get("theory").cloned().unwrap_or(Value::Null);
    metadata.operator = index.cards.get("operator").cloned().unwrap_or(Value::Null);
    // The interpolation is the operator card's (`configs.interpolation_polynomial_degree`,
    // `configs.interpolation_is_log`), not a default: unknown when the card does not say.
    metadata.interpolation = None;
    metadata.interpolation = metadata.interpolation();
    if let Some((output, input)) = sides {
        metadata.set_sides(output, input);
    }
    metadata
        .validate(&at)
        .map_err(|e| bad(&at, format!("cannot describe a store: {e}")))?;
    Ok((metadata, version, data_version))
}

fn header_location(path: &Path, inventory: Inventory, stem: &str) -> Location {
    Location::member(path, format!("{}/{stem}.yaml", inventory.dir()))
}

fn same_segment(a: &Segment, b: &Segment) -> bool {
    a.origin.to_bits() == b.origin.to_bits()
        && a.target.to_bits() == b.target.to_bits()
        && a.nf == b.nf
}

/// The targets the operator card asks for: `mugrid` as `[mu, nf]` (linear mu).
fn card_targets(index: &Index) -> Vec<EvolutionPoint> {
    let Some(grid) = index
        .cards
        .get("operator")
        .and_then(|o| o.get("mugrid"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    grid.iter()
        .filter_map(|item| {
            let mu = item.get(0)?.as_f64()?;
            let nf = u8::try_from(item.get(1)?.as_i64()?).ok()?;
            EvolutionPoint::new(mu * mu, nf).ok()
        })
        .collect()
}

/// Decides what every item becomes.
struct Plan {
    roles: BTreeMap<(Inventory, String), Vec<Role>>,
    skipped_parts: usize,
}

fn plan(path: &Path, index: &Index, metadata: &Metadata) -> Result<Plan> {
    let mut roles: BTreeMap<(Inventory, String), Vec<Role>> = BTreeMap::new();
    let mut finals: BTreeSet<EvolutionPoint> = BTreeSet::new();
    let mut partials: BTreeSet<EvolutionPoint> = BTreeSet::new();
    let mut edges: BTreeSet<Edge> = BTreeSet::new();
    let mut cliffs: Vec<((Inventory, String), Segment)> = Vec::new();
    let mut skipped_parts = 0;
    let has_payload = |key: &(Inventory, String), at: &Location| {
        if index.payloads.contains_key(key) {
            Ok(())
        } else {
            Err(bad(
                at,
                "header without its payload (.npy.lz4 or .npz.lz4 with the same name)",
            ))
        }
    };
    let path_to = |point: EvolutionPoint, at: &Location| {
        EvolutionPath::new(metadata.origin, &metadata.matching, point)
            .map_err(|e| bad(at, e.to_string()))
    };
    // Final operators first: they decide which parts are redundant.
    for ((inventory, stem), header) in &index.headers {
        if *inventory != Inventory::Operators {
            continue;
        }
        let key = (*inventory, stem.clone());
        let at = header_location(path, *inventory, stem);
        has_payload(&key, &at)?;
        let point = EvolutionPoint::new(
            number(header, "scale", &at)?,
            nf_of(integer(header, "nf", &at)?, &at)?,
        )
        .map_err(|e| bad(&at, e.to_string()))?;
        if !finals.insert(point) {
            return Err(bad(&at, format!("a second final operator for {point}")));
        }
        roles.entry(key).or_default().push(Role::Operator(point));
    }
    let reshaped = metadata.is_reshaped();
    for ((inventory, stem), header) in &index.headers {
        let key = (*inventory, stem.clone());
        let at = header_location(path, *inventory, stem);
        if reshaped && matches!(inventory, Inventory::Parts | Inventory::PartsMatching) {
            // Square parts belong to no reshaped store.
            skipped_parts += 1;
            continue;
        }
        match inventory {
            Inventory::Parts => {
                has_payload(&key, &at)?;
                let segment = Segment {
                    origin: number(header, "origin", &at)?,
                    target: number(header, "target", &at)?,
                    nf: nf_of(integer(header, "nf", &at)?, &at)?,
                };
                let cliff = header
                    .get("cliff")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if cliff {
                    let edge = Edge::Segment(segment);
                    if !edges.insert(edge) {
                        return Err(bad(&at, format!("a second part for {edge}")));
                    }
                    roles
                        .entry(key.clone())
                        .or_default()
                        .push(Role::Threshold(edge));
                    cliffs.push((key, segment));
                    continue;
                }
                let point = EvolutionPoint::new(segment.target, segment.nf)
                    .map_err(|e| bad(&at, e.to_string()))?;
                if finals.contains(&point) {
                    skipped_parts += 1;
                    continue;
                }
                let expected = path_to(point, &at)?.partial;
                if !same_segment(&expected, &segment) {
                    return Err(bad(
                        &at,
                        format!(
                            "evolution part mu2 {} -> {} (nf={}) is not the last segment of the \
                             path to {point}, which starts at mu2 {} with these matching scales",
                            segment.origin, segment.target, segment.nf, expected.origin
                        ),
                    ));
                }
                if !partials.insert(point) {
                    return Err(bad(&at, format!("a second partial for {point}")));
                }
                roles.entry(key).or_default().push(Role::Partial(point));
            }
            Inventory::PartsMatching => {
                has_payload(&key, &at)?;
                let scale = number(header, "scale", &at)?;
                let hq = nf_of(integer(header, "hq", &at)?, &at)?;
                let inverse = header
                    .get("inverse")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| bad(&at, "'inverse' is missing or not a boolean"))?;
                if !(4..=6).contains(&hq) {
                    return Err(bad(&at, format!("hq = {hq} is not a heavy quark")));
                }
                let (from_nf, to_nf) = if inverse { (hq, hq - 1) } else { (hq - 1, hq) };
                let edge = Edge::Matching(crate::store::Matching {
                    scale,
                    from_nf,
                    to_nf,
                });
                if !edges.insert(edge) {
                    return Err(bad(&at, format!("a second part for {edge}")));
                }
                roles.entry(key).or_default().push(Role::Threshold(edge));
            }
            Inventory::Operators | Inventory::Recipes | Inventory::RecipesMatching => {}
        }
    }
    // Targets of the card with neither a final operator nor a partial: their last segment may be
    // a cliff part (a target on a matching scale, on the lower-nf side).
    for point in card_targets(index) {
        if reshaped || finals.contains(&point) || partials.contains(&point) {
            continue;
        }
        let Ok(path_to_point) = EvolutionPath::new(metadata.origin, &metadata.matching, point)
        else {
            continue;
        };
        if let Some((key, _)) = cliffs
            .iter()
            .find(|(_, s)| same_segment(s, &path_to_point.partial))
        {
            partials.insert(point);
            roles
                .entry(key.clone())
                .or_default()
                .push(Role::Partial(point));
        }
    }
    Ok(Plan {
        roles,
        skipped_parts,
    })
}

/// Bytes an item may decompress to: an npz of an operator and its error, with headers.
fn payload_limit(metadata: &Metadata) -> u64 {
    let values = |shape: [usize; 4]| shape.iter().map(|&d| d as u64).product::<u64>();
    2 * 8 * values(metadata.operator_shape()).max(values(metadata.square_shape())) + (1 << 16)
}

/// Options of [`import_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// The nf of every point (and of the origin) of an eko 0.8 archive, which records none.
    /// Refused for the newer layouts, which record their own.
    pub nf: Option<u8>,
}

/// What the second pass streams.
enum Source {
    /// eko 0.13+: the items of the plan.
    Items(Plan),
    /// eko 0.8: one rank-5 array of operators (and one of errors), a point per slice.
    Rank5 {
        points: Vec<EvolutionPoint>,
        operators: Member,
        errors: Option<Member>,
    },
}

impl Source {
    fn total(&self) -> usize {
        match self {
            Source::Items(plan) => plan.roles.len(),
            Source::Rank5 { points, .. } => points.len(),
        }
    }
}

/// One decoded payload on its way to the store.
struct Job {
    roles: Vec<Role>,
    decoded: Decoded,
}

/// The metadata, points and arrays of an eko 0.8 archive, or `None` when the archive has
/// another layout.
type Eko08 = (
    Metadata,
    String,
    Vec<EvolutionPoint>,
    Member,
    Option<Member>,
    Vec<String>,
);

fn eko08(path: &Path, index: &Index, options: &ImportOptions) -> Result<Option<Eko08>> {
    if index.cards.contains_key("metadata") {
        return Ok(None);
    }
    let dirs: Vec<(&String, &Nested)> = index
        .nested
        .iter()
        .filter(|(_, n)| n.metadata.is_some())
        .collect();
    let (dir, nested) = match dirs.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        [a, b, ..] => {
            return Err(bad(
                &Location::file(path),
                format!(
                    "no metadata.yaml at the archive's root but one in {:?} and in {:?}: not an \
                     eko output of any version",
                    a.0, b.0
                ),
            ));
        }
    };
    let at = Location::member(path, format!("{dir}/metadata.yaml"));
    let meta = nested.metadata.as_ref().expect("filtered");
    let q2grid = meta
        .get("Q2grid")
        .or_else(|| meta.get("mu2grid"))
        .and_then(Value::as_array);
    let (Some(q2grid), Some(q2_ref)) = (q2grid, meta.get("q2_ref")) else {
        return Err(bad(
            &at,
            "no metadata.yaml at the archive's root, and this one is not eko 0.8's (it needs \
             'q2_ref', 'Q2grid' and 'interpolation_xgrid')",
        ));
    };
    let version = meta
        .get("eko_version")
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .unwrap_or_default();
    let nf = options.nf.ok_or_else(|| {
        bad(
            &at,
            format!(
                "an eko {version} archive (eko 0.8's layout: one rank-5 array) records no nf: \
                 give the nf of its points with --nf"
            ),
        )
    })?;
    let nf = nf_of(i64::from(nf), &at)?;
    let q2_ref = q2_ref
        .as_f64()
        .ok_or_else(|| bad(&at, format!("'q2_ref' is {q2_ref}, not a number")))?;
    let origin =
        EvolutionPoint::new(q2_ref, nf).map_err(|e| bad(&at, format!("origin (q2_ref): {e}")))?;
    let mut points = Vec::with_capacity(q2grid.len());
    let mut seen = BTreeSet::new();
    for q2 in q2grid {
        let point = q2
            .as_f64()
            .ok_or_else(|| bad(&at, format!("Q2grid value {q2} is not a number")))
            .and_then(|q2| EvolutionPoint::new(q2, nf).map_err(|e| bad(&at, e.to_string())))?;
        if !seen.insert(point) {
            return Err(bad(&at, format!("Q2grid names {point} twice")));
        }
        points.push(point);
    }
    let (xgrid, output, input) = legacy::grids_and_sides(meta, "interpolation_xgrid", &at)?;
    let mut metadata = Metadata::new(
        origin,
        xgrid,
        FLAVOR_BASIS.to_vec(),
        MatchingScales::default(),
    );
    metadata.interpolation = match (
        meta.get("interpolation_polynomial_degree")
            .and_then(Value::as_u64),
        meta.get("interpolation_is_log").and_then(Value::as_bool),
    ) {
        (Some(degree), Some(log)) => Some(Interpolation {
            polynomial_degree: u32::try_from(degree)
                .map_err(|_| bad(&at, format!("interpolation degree {degree} is too large")))?,
            log,
        }),
        _ => None,
    };
    metadata.operator = meta.clone();
    metadata.set_sides(output, input);
    metadata
        .validate(&at)
        .map_err(|e| bad(&at, format!("cannot describe a store: {e}")))?;
    let array = |names: [&str; 2]| names.iter().find_map(|n| nested.arrays.get(*n)).cloned();
    let operators = array(["operators", "operator"]).ok_or_else(|| {
        bad(
            &Location::file(path),
            format!("eko 0.8 layout without {dir}/operators.npy.lz4"),
        )
    })?;
    let errors = array(["operator_errors", "operator_error"]);
    let mut ignored: Vec<String> = nested
        .arrays
        .values()
        .filter(|m| m.name != operators.name && Some(&m.name) != errors.as_ref().map(|e| &e.name))
        .map(|m| m.name.clone())
        .collect();
    ignored.extend(nested.others.iter().cloned());
    ignored.extend(index.ignored.iter().cloned());
    Ok(Some((
        metadata, version, points, operators, errors, ignored,
    )))
}

/// Imports the eko archive `archive` into a new store at `dest` (which must not exist, or be an
/// empty directory), with default [`ImportOptions`]. See [`import_with`].
pub fn import(
    archive: &Path,
    dest: &Path,
    progress: impl FnMut(ImportProgress),
) -> Result<ImportReport> {
    import_with(archive, dest, &ImportOptions::default(), progress)
}

/// Imports the eko archive `archive` into a new store at `dest` (which must not exist, or be an
/// empty directory). See the module documentation for the mapping and the layouts read.
/// `progress` is called after each payload written. On error, nothing is left at `dest` or
/// beside it.
///
/// The store is built in a locked temporary directory beside `dest`
/// (`.eko-tmp.import.{name}.*`) and renamed into place when complete. Killed, it leaves that
/// directory, which the next import to `dest` (or [`recover`](crate::store::recover) of `dest`)
/// removes once its owner is gone.
pub fn import_with(
    archive: &Path,
    dest: &Path,
    options: &ImportOptions,
    mut progress: impl FnMut(ImportProgress),
) -> Result<ImportReport> {
    crate::atomic::check_new_store_dir(dest)?;
    crate::atomic::remove_dead_beside(dest, "import")?;
    let index = read_index(archive)?;
    let (metadata, eko_version, data_version, source, ignored) =
        match eko08(archive, &index, options)? {
            Some((metadata, version, points, operators, errors, ignored)) => (
                metadata,
                version,
                0,
                Source::Rank5 {
                    points,
                    operators,
                    errors,
                },
                ignored,
            ),
            None => {
                let (metadata, version, data_version) = metadata_of(archive, &index)?;
                if let Some(nf) = options.nf {
                    return Err(bad(
                        &Location::member(archive, "metadata.yaml"),
                        format!(
                            "--nf {nf} is for eko 0.8 archives, which record no nf; this one \
                             (eko {version}, data_version {data_version}) records each point's \
                             (leave out --nf, or Python's nf=)"
                        ),
                    ));
                }
                let plan = plan(archive, &index, &metadata)?;
                (
                    metadata,
                    version,
                    data_version,
                    Source::Items(plan),
                    index.ignored.clone(),
                )
            }
        };
    let root = crate::atomic::TempDir::beside(dest, "import")?;
    let store_dir = root.path().join("store");
    let mut store = Store::create(&store_dir, &metadata)?;
    // A private directory, placed whole or discarded: files are synced together at the end.
    store.start_bulk();
    let mut report = ImportReport {
        archive: archive.to_path_buf(),
        store: dest.to_path_buf(),
        eko_version,
        data_version,
        operators: Vec::new(),
        partials: Vec::new(),
        thresholds: Vec::new(),
        skipped_parts: match &source {
            Source::Items(plan) => plan.skipped_parts,
            Source::Rank5 { .. } => 0,
        },
        ignored_entries: ignored,
        bytes_decompressed: 0,
    };
    let total = source.total();
    let done = pipeline(archive, &metadata, &source, |jobs, buffers| {
        write_jobs(&mut store, &mut report, jobs, buffers, total, &mut progress)
    })?;
    if done != total {
        return Err(bad(
            &Location::file(archive),
            format!(
                "{} payload(s) named by headers were not found",
                total - done
            ),
        ));
    }
    store.finish_bulk()?;
    drop(store);
    crate::fault::fault_point!("import.rename-into-place");
    crate::atomic::place_dir(&store_dir, dest)?;
    drop(root);
    report.operators.sort();
    report.partials.sort();
    report.thresholds.sort();
    Ok(report)
}

/// Runs the reader thread, which decodes the payloads of `source` one ahead, and `consume` on
/// this thread with the decoded jobs and a way to give buffers back. At most two payloads'
/// buffers exist at a time: the one being written and the one being decoded.
fn pipeline(
    archive: &Path,
    metadata: &Metadata,
    source: &Source,
    consume: impl FnOnce(mpsc::Receiver<Result<Job>>, mpsc::Sender<Decoded>) -> Result<usize>,
) -> Result<usize> {
    let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Result<Job>>(0);
    let (back_tx, back_rx) = mpsc::channel::<Decoded>();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("eko-import-reader".into())
            .spawn_scoped(scope, move || {
                let mut created = 0;
                // A buffer for the next payload: a new one for the first two, then the one
                // the writer gives back (None when the writer has stopped).
                let mut next = move || -> Option<Decoded> {
                    if created < 2 {
                        created += 1;
                        Some(back_rx.try_recv().unwrap_or_default())
                    } else {
                        back_rx.recv().ok()
                    }
                };
                let result = read_jobs(archive, metadata, source, &mut next, &jobs_tx);
                if let Err(e) = result {
                    // The writer may have stopped already: then its own error is reported.
                    let _ = jobs_tx.send(Err(e));
                }
            })
            .map_err(|e| Error::Io {
                file: Location::file(archive),
                operation: "start the reader thread",
                source: e,
            })?;
        let result = consume(jobs_rx, back_tx);
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// The reader thread: decodes every payload `source` needs, in archive order, and sends each.
fn read_jobs(
    archive: &Path,
    metadata: &Metadata,
    source: &Source,
    next: &mut dyn FnMut() -> Option<Decoded>,
    jobs: &mpsc::SyncSender<Result<Job>>,
) -> Result<()> {
    match source {
        Source::Items(plan) => {
            let limit = payload_limit(metadata);
            let location = Location::file(archive);
            let mut tar = open_archive(archive)?;
            for entry in tar
                .entries_with_seek()
                .map_err(|e| tar_error(&location, e))?
            {
                let entry = entry.map_err(|e| tar_error(&location, e))?;
                let Some(name) = entry_path(&entry) else {
                    continue;
                };
                let EntryKind::Payload(inventory, stem, payload) = kind_of(&name) else {
                    continue;
                };
                let Some(roles) = plan.roles.get(&(inventory, stem)) else {
                    continue;
                };
                let at = Location::member(archive, name);
                let shape = if roles.iter().any(|r| matches!(r, Role::Operator(_))) {
                    metadata.operator_shape()
                } else {
                    metadata.square_shape()
                };
                let Some(mut decoded) = next() else {
                    return Ok(());
                };
                stream::read_payload(
                    entry,
                    payload == Payload::Npz,
                    shape,
                    &mut decoded,
                    &at,
                    limit,
                )?;
                let job = Job {
                    roles: roles.clone(),
                    decoded,
                };
                if jobs.send(Ok(job)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        }
        Source::Rank5 {
            points,
            operators,
            errors,
        } => {
            let mut points = points.iter();
            legacy::stream_rank5(
                archive,
                operators,
                errors.as_ref(),
                points.len(),
                metadata.operator_shape(),
                || next().unwrap_or_default(),
                |decoded| {
                    let point = *points.next().expect("one slice per point");
                    let job = decoded.map(|decoded| Job {
                        roles: vec![Role::Operator(point)],
                        decoded,
                    });
                    jobs.send(job).is_ok()
                },
            )
        }
    }
}

/// The writer: each decoded payload into the store, in the order read; returns the number
/// written.
fn write_jobs(
    store: &mut Store,
    report: &mut ImportReport,
    jobs: mpsc::Receiver<Result<Job>>,
    buffers: mpsc::Sender<Decoded>,
    total: usize,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<usize> {
    let mut thresholds = None;
    let mut done = 0;
    for job in jobs {
        let job = job?;
        let operator = job.decoded.operator.view();
        let error = job.decoded.error.as_ref().map(stream::Array::view);
        for role in &job.roles {
            match role {
                Role::Operator(p) => {
                    store.insert_operator(*p, &operator, error.as_ref())?;
                    report.operators.push(*p);
                }
                Role::Partial(p) => {
                    store.insert_partial(*p, &operator, error.as_ref())?;
                    report.partials.push(*p);
                }
                Role::Threshold(edge) => {
                    if thresholds.is_none() {
                        thresholds = Some(store.thresholds_writer()?);
                    }
                    thresholds
                        .as_mut()
                        .expect("just made")
                        .add(edge, &operator, error.as_ref())?;
                    report.thresholds.push(edge.key());
                }
            }
        }
        report.bytes_decompressed += job.decoded.bytes;
        // The reader may have stopped (all sent): then the buffer is simply dropped.
        let _ = buffers.send(job.decoded);
        crate::fault::fault_point!("import.payload");
        done += 1;
        progress(ImportProgress { done, total });
    }
    if let Some(writer) = thresholds {
        store.commit_thresholds(writer)?;
    }
    Ok(done)
}
