//! Python eko's output archives (`.tar`, eko 0.13 and later, `data_version` 3): import into a
//! store.
//!
//! An eko archive is a plain tar holding `metadata.yaml` (`data_version`, `origin: [mu0², nf0]`,
//! `xgrid`, `version`), the `theory.yaml` and `operator.yaml` cards, and inventories of items:
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
//! - `theory.yaml` and `operator.yaml` become the store metadata's `theory` and `operator`
//!   (YAML read into JSON; `.nan` and `.inf` kept as the strings `".nan"`, `".inf"`).
//!
//! The matching scales are those of the matching headers (`parts/matching`, `recipes/matching`);
//! a quark with none gets `(ratio · mass)²` from a pole-mass theory card, or no scale.
//!
//! Import streams: the archive is read twice (headers, then payloads, skipping what is not
//! needed), each payload is decompressed into one scratch file (refused beyond the size an
//! operator and its error can take), mapped, checked and written to the store, so memory holds at
//! most one operator whatever the archive's size. The store is built under a temporary name beside
//! the destination and renamed into place when complete: on any error nothing is left.

pub mod export;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use ndarray::{CowArray, Ix4, IxDyn};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, IoContext, Location, Result};
use crate::npy::NpyFile;
use crate::npz::NpzFile;
use crate::store::{
    Edge, EvolutionPath, EvolutionPoint, FLAVOR_BASIS, MatchingScales, Metadata, Segment, Store,
};

/// The oldest archive layout read: eko 0.13's.
pub const MIN_DATA_VERSION: i64 = 3;
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
        return EntryKind::Other;
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

/// A payload's error, with the scratch file's path (an implementation detail) left out.
fn payload_error(at: &Location, e: &Error) -> Error {
    let text = e.to_string();
    let reason = match text.split_once(": ") {
        Some((path, rest)) if path.contains(crate::TEMP_PREFIX) => rest.to_string(),
        _ => text,
    };
    bad(at, format!("decompressed payload: {reason}"))
}

fn bad(file: &Location, reason: impl Into<String>) -> Error {
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

/// The store metadata of an archive: origin and x grid from `metadata.yaml`, matching scales from
/// the matching headers or the theory card.
fn metadata_of(path: &Path, index: &Index) -> Result<(Metadata, String, i64)> {
    let at = Location::member(path, "metadata.yaml");
    let meta = index.cards.get("metadata").ok_or_else(|| {
        bad(
            &Location::file(path),
            "not an eko output: no metadata.yaml at the archive's root",
        )
    })?;
    let data_version = integer(meta, "data_version", &at)?;
    if data_version < MIN_DATA_VERSION {
        return Err(bad(
            &at,
            format!(
                "data_version {data_version} was written by eko older than 0.13, which libeko does \
                 not import (open it with eko and save it again with eko 0.13 or later)"
            ),
        ));
    }
    let version = meta
        .get("version")
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .unwrap_or_default();
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
    for ((inventory, stem), header) in &index.headers {
        let key = (*inventory, stem.clone());
        let at = header_location(path, *inventory, stem);
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
        if finals.contains(&point) || partials.contains(&point) {
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
    let values: u64 = metadata
        .operator_shape()
        .iter()
        .map(|&d| d as u64)
        .product();
    2 * 8 * values + (1 << 16)
}

/// An operator and, when the item has one, its error.
type Loaded<'a> = (CowArray<'a, f64, Ix4>, Option<CowArray<'a, f64, Ix4>>);

/// An operator and its error read from a scratch file.
fn load_payload<'a>(
    scratch: &'a Scratch,
    payload: Payload,
    at: &Location,
    shape: [usize; 4],
) -> Result<Loaded<'a>> {
    let to4 = |a: CowArray<'a, f64, IxDyn>, what: &str| -> Result<CowArray<'a, f64, Ix4>> {
        if a.shape() != shape {
            return Err(bad(
                at,
                format!(
                    "{what} has shape {:?}; the archive's grid needs {shape:?}",
                    a.shape()
                ),
            ));
        }
        Ok(a.into_dimensionality::<Ix4>().expect("rank checked"))
    };
    let wrap = |e: Error| payload_error(at, &e);
    match payload {
        Payload::Npy => {
            let file = scratch.npy.as_ref().expect("opened");
            let array = match file.view::<f64>() {
                Ok(v) => CowArray::from(v),
                Err(_) => CowArray::from(file.read::<f64>().map_err(wrap)?),
            };
            Ok((to4(array, "the operator")?, None))
        }
        Payload::Npz => {
            let file = scratch.npz.as_ref().expect("opened");
            let operator = file.load::<f64>("operator").map_err(wrap)?;
            let error = file.load::<f64>("error").map_err(wrap)?;
            Ok((
                to4(operator, "the operator")?,
                Some(to4(error, "the error")?),
            ))
        }
    }
}

/// The mapped scratch file of the payload being imported.
struct Scratch {
    npy: Option<NpyFile>,
    npz: Option<NpzFile>,
}

/// Removes a directory tree on drop unless disarmed.
/// Imports the eko archive `archive` into a new store at `dest` (which must not exist, or be an
/// empty directory). See the module documentation for the mapping. `progress` is called after
/// each payload written. On error, nothing is left at `dest` or beside it.
///
/// The store is built in a locked temporary directory beside `dest`
/// (`.eko-tmp.import.{name}.*`) and renamed into place when complete. Killed, it leaves that
/// directory, which the next import to `dest` (or [`recover`](crate::store::recover) of `dest`)
/// removes once its owner is gone.
pub fn import(
    archive: &Path,
    dest: &Path,
    mut progress: impl FnMut(ImportProgress),
) -> Result<ImportReport> {
    crate::atomic::check_new_store_dir(dest)?;
    crate::atomic::remove_dead_beside(dest, "import")?;
    let index = read_index(archive)?;
    let (metadata, eko_version, data_version) = metadata_of(archive, &index)?;
    let plan = plan(archive, &index, &metadata)?;
    let shape = metadata.operator_shape();
    let limit = payload_limit(&metadata);

    let root = crate::atomic::TempDir::beside(dest, "import")?;
    let root_dir = root.path().to_path_buf();
    let store_dir = root_dir.join("store");
    let mut store = Store::create(&store_dir, &metadata)?;
    let mut thresholds = if plan
        .roles
        .values()
        .flatten()
        .any(|r| matches!(r, Role::Threshold(_)))
    {
        Some(store.thresholds_writer()?)
    } else {
        None
    };

    let location = Location::file(archive);
    let mut tar = open_archive(archive)?;
    let total = plan.roles.len();
    let mut done = 0;
    let mut report = ImportReport {
        archive: archive.to_path_buf(),
        store: dest.to_path_buf(),
        eko_version,
        data_version,
        operators: Vec::new(),
        partials: Vec::new(),
        thresholds: Vec::new(),
        skipped_parts: plan.skipped_parts,
        ignored_entries: index.ignored.clone(),
        bytes_decompressed: 0,
    };
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
        let at = Location::member(archive, name.clone());
        let scratch_path = root_dir.join(match payload {
            Payload::Npy => "payload.npy",
            Payload::Npz => "payload.npz",
        });
        let written = decompress(entry, &scratch_path, limit, &at)?;
        report.bytes_decompressed += written;
        let scratch = Scratch {
            npy: (payload == Payload::Npy)
                .then(|| NpyFile::open(&scratch_path))
                .transpose()
                .map_err(|e| payload_error(&at, &e))?,
            npz: (payload == Payload::Npz)
                .then(|| NpzFile::open(&scratch_path))
                .transpose()
                .map_err(|e| payload_error(&at, &e))?,
        };
        let (operator, error) = load_payload(&scratch, payload, &at, shape)?;
        for role in roles {
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
                    thresholds
                        .as_mut()
                        .expect("created when a threshold is planned")
                        .add(edge, &operator, error.as_ref())?;
                    report.thresholds.push(edge.key());
                }
            }
        }
        drop(scratch);
        crate::fault::fault_point!("import.payload");
        done += 1;
        progress(ImportProgress { done, total });
    }
    if done != total {
        return Err(bad(
            &location,
            format!(
                "{} payload(s) named by headers were not found",
                total - done
            ),
        ));
    }
    if let Some(writer) = thresholds {
        store.commit_thresholds(writer)?;
    }
    drop(store);
    crate::fault::fault_point!("import.rename-into-place");
    crate::atomic::place_dir(&store_dir, dest)?;
    drop(root);
    report.operators.sort();
    report.partials.sort();
    report.thresholds.sort();
    Ok(report)
}

/// Decompresses one LZ4 frame from `reader` into `path`, refusing more than `limit` bytes.
fn decompress(reader: impl Read, path: &Path, limit: u64, at: &Location) -> Result<u64> {
    let mut out = File::create(path).io_context(&Location::file(path), "create")?;
    let mut decoder = lz4_flex::frame::FrameDecoder::new(reader).take(limit + 1);
    let written = std::io::copy(&mut decoder, &mut out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData
            || e.kind() == std::io::ErrorKind::UnexpectedEof
        {
            bad(at, format!("not a valid LZ4 frame: {e}"))
        } else {
            Error::Io {
                file: at.clone(),
                operation: "decompress",
                source: e,
            }
        }
    })?;
    if written > limit {
        return Err(bad(
            at,
            format!(
                "decompresses to more than {limit} bytes, more than an operator and its error of \
                 the archive's grid take"
            ),
        ));
    }
    Ok(written)
}
