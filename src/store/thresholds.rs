//! `thresholds.npz`: the threshold operators of a store (every edge of a path but the last
//! segment), one member per edge, named by [`Edge::key`], each with an optional `.error` member.
//!
//! libeko writes the archive with stored (uncompressed), 64-byte-aligned members, so each operator
//! is viewed in place in the mapped archive. Archives written by NumPy (`np.savez`, members not
//! aligned, or `np.savez_compressed`) are read too, by copy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ndarray::{ArrayBase, CowArray, Data, Ix4};

use super::edge::{ERROR_SUFFIX, Edge};
use crate::error::{Error, Location, Result};
use crate::npy::{ElementKind, Order};
use crate::npz::{NpzFile, NpzWriter};

/// An open `thresholds.npz`, indexed by edge.
#[derive(Debug)]
pub struct Thresholds {
    npz: NpzFile,
    /// Edge → whether it has an error member.
    index: BTreeMap<Edge, bool>,
}

impl Thresholds {
    /// Maps `path` and checks that every member is a threshold operator (or its error) of `shape`.
    pub fn open(path: impl AsRef<Path>, shape: [usize; 4]) -> Result<Self> {
        let npz = NpzFile::open(path)?;
        let mut index = BTreeMap::new();
        let mut errors = BTreeSet::new();
        for member in npz.members() {
            let location = Location::member(npz.path(), member.zip_name.clone());
            let (key, is_error) = match member.key.strip_suffix(ERROR_SUFFIX) {
                Some(k) => (k, true),
                None => (member.key.as_str(), false),
            };
            let edge = Edge::from_key(key).ok_or_else(|| Error::ThresholdMember {
                file: location.clone(),
                reason: format!(
                    "{:?} is not segment_{{origin}}_to_{{target}}_nf{{nf}} or \
                     matching_{{quark}}_{{scale}}_nf{{from}}_to_nf{{to}} (optionally + .error)",
                    member.key
                ),
            })?;
            if member.header.dtype.kind != ElementKind::F64 {
                return Err(Error::DtypeMismatch {
                    file: location,
                    expected: ElementKind::F64.name(),
                    found: member.header.dtype.kind.name(),
                });
            }
            if member.header.shape != shape {
                return Err(Error::ShapeMismatch {
                    file: location,
                    expected: shape.to_vec(),
                    found: member.header.shape.clone(),
                });
            }
            if is_error {
                errors.insert(edge);
            } else {
                index.insert(edge, false);
            }
        }
        for edge in errors {
            match index.get_mut(&edge) {
                Some(has) => *has = true,
                None => {
                    return Err(Error::ThresholdMember {
                        file: Location::member(npz.path(), format!("{}.error.npy", edge.key())),
                        reason: "an error without its operator".into(),
                    });
                }
            }
        }
        Ok(Thresholds { npz, index })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        self.npz.path()
    }

    /// Every edge held, in order of their endpoints.
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.index.keys().copied()
    }

    /// Whether `edge` is held.
    pub fn contains(&self, edge: &Edge) -> bool {
        self.index.contains_key(edge)
    }

    /// Whether `edge` is held with an error.
    pub fn has_error(&self, edge: &Edge) -> bool {
        self.index.get(edge).copied().unwrap_or(false)
    }

    /// The operator of `edge`: viewed in place when the member is stored and aligned, else copied.
    pub fn operator(&self, edge: &Edge) -> Result<CowArray<'_, f64, Ix4>> {
        self.load(&edge.key())
    }

    /// The error of `edge`, if it has one.
    pub fn error(&self, edge: &Edge) -> Result<Option<CowArray<'_, f64, Ix4>>> {
        if self.has_error(edge) {
            self.load(&format!("{}{ERROR_SUFFIX}", edge.key()))
                .map(Some)
        } else {
            Ok(None)
        }
    }

    fn load(&self, key: &str) -> Result<CowArray<'_, f64, Ix4>> {
        let array = self.npz.load::<f64>(key)?;
        Ok(array
            .into_dimensionality::<Ix4>()
            .expect("shape checked on open"))
    }
}

/// Writes a `thresholds.npz` edge by edge: each operator goes to the file when added (nothing is
/// kept in memory), and the archive appears at its path, replacing any previous one, on
/// [`finish`](Self::finish). Dropped unfinished, nothing appears.
pub struct ThresholdsWriter {
    writer: NpzWriter,
    path: PathBuf,
    shape: [usize; 4],
    written: BTreeSet<Edge>,
}

impl ThresholdsWriter {
    /// Starts the archive at `path` for operators of `shape`.
    pub fn create(path: impl AsRef<Path>, shape: [usize; 4]) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        Ok(ThresholdsWriter {
            writer: NpzWriter::create(&path)?,
            path,
            shape,
            written: BTreeSet::new(),
        })
    }

    /// Adds `edge`'s operator and its error, if any.
    pub fn add<S, E>(
        &mut self,
        edge: &Edge,
        operator: &ArrayBase<S, Ix4>,
        error: Option<&ArrayBase<E, Ix4>>,
    ) -> Result<()>
    where
        S: Data<Elem = f64>,
        E: Data<Elem = f64>,
    {
        let key = edge.key();
        if self.written.contains(edge) {
            return Err(Error::InvalidArgument {
                reason: format!("{}: {edge} was already added", self.path.display()),
            });
        }
        for (k, found) in std::iter::once((key.clone(), operator.shape()))
            .chain(error.map(|e| (format!("{key}{ERROR_SUFFIX}"), e.shape())))
        {
            if found != self.shape {
                return Err(Error::ShapeMismatch {
                    file: Location::member(&self.path, format!("{k}.npy")),
                    expected: self.shape.to_vec(),
                    found: found.to_vec(),
                });
            }
        }
        self.writer.add(&key, operator, Order::C)?;
        if let Some(e) = error {
            self.writer
                .add(&format!("{key}{ERROR_SUFFIX}"), e, Order::C)?;
        }
        self.written.insert(*edge);
        Ok(())
    }

    /// The edges added so far.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.written.iter()
    }

    /// Writes the directory and renames the archive into place.
    pub fn finish(self) -> Result<()> {
        self.writer.finish()
    }
}
