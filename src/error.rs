//! The one error type of libeko.
//!
//! Every variant names the file (or archive member) it is about and the check that failed, so a
//! message printed on its own is enough to find the problem. Variants are distinct failures: code
//! that must react differently (the C ABI maps each to its own status code) matches on them.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where a problem was found: a file on disk, a member of an `.npz` archive, or a caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on disk.
    File(PathBuf),
    /// One member of a zip (`.npz`) archive.
    Member {
        /// The archive on disk.
        archive: PathBuf,
        /// The member's name inside the archive, as stored (for example `a.npy`).
        member: String,
    },
    /// An in-memory buffer, described in words.
    Buffer(String),
}

impl Location {
    /// The location of a file on disk.
    pub fn file(path: impl AsRef<Path>) -> Self {
        Location::File(path.as_ref().to_path_buf())
    }

    /// The location of a member of an archive.
    pub fn member(archive: impl AsRef<Path>, member: impl Into<String>) -> Self {
        Location::Member {
            archive: archive.as_ref().to_path_buf(),
            member: member.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Member { archive, member } => {
                write!(f, "{} (member '{}')", archive.display(), member)
            }
            Location::Buffer(what) => f.write_str(what),
        }
    }
}

/// Everything that can go wrong in libeko.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{file}: {operation} failed: {source}")]
    Io {
        /// The file the call was about.
        file: Location,
        /// What was being done (`open`, `map`, `write`, `rename`, ...).
        operation: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },

    /// The first six bytes are not `\x93NUMPY`.
    #[error("{file}: not a .npy file: magic string is \"{found}\", expected \"\\x93NUMPY\"")]
    BadMagic {
        /// The file.
        file: Location,
        /// The bytes found, escaped.
        found: String,
    },

    /// The file ends before a part that must be there.
    #[error(
        "{file}: truncated: the {part} needs {needed} bytes from offset {offset}, the file has {available}"
    )]
    Truncated {
        /// The file.
        file: Location,
        /// Which part is cut short (`magic string`, `header length`, `header`, `array data`).
        part: &'static str,
        /// Where the part starts.
        offset: u64,
        /// Bytes the part needs.
        needed: u64,
        /// Bytes available from `offset` on.
        available: u64,
    },

    /// A `.npy` format version other than 1.0, 2.0 or 3.0.
    #[error("{file}: unsupported .npy format version {major}.{minor}: only 1.0, 2.0 and 3.0 exist")]
    UnsupportedVersion {
        /// The file.
        file: Location,
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },

    /// The header is longer than NumPy's safety limit of 10,000 characters.
    #[error("{file}: header of {length} {unit} exceeds NumPy's limit of {limit} characters")]
    HeaderTooLong {
        /// The file.
        file: Location,
        /// The length found.
        length: usize,
        /// `bytes` or `characters`.
        unit: &'static str,
        /// The limit.
        limit: usize,
    },

    /// A version 3.0 header that is not valid UTF-8.
    #[error("{file}: header is not valid UTF-8 (required by format version 3.0) at byte {offset}")]
    HeaderEncoding {
        /// The file.
        file: Location,
        /// Byte offset of the first invalid sequence, counted from the start of the header text.
        offset: usize,
    },

    /// The header text is not a Python literal.
    #[error("{file}: header is not a valid Python literal: {reason} at character {offset}")]
    HeaderSyntax {
        /// The file.
        file: Location,
        /// Byte offset in the header text.
        offset: usize,
        /// What the parser expected or found.
        reason: String,
    },

    /// Brackets nested deeper than the parser allows.
    #[error("{file}: header nests brackets deeper than {limit} levels")]
    HeaderNesting {
        /// The file.
        file: Location,
        /// The nesting limit (Python's own parser stops at the same depth).
        limit: usize,
    },

    /// The header literal is not a dict.
    #[error("{file}: header is not a dictionary (found {found})")]
    HeaderNotDict {
        /// The file.
        file: Location,
        /// The kind of value found.
        found: &'static str,
    },

    /// The header dict does not have exactly the keys `descr`, `fortran_order`, `shape`.
    #[error(
        "{file}: header keys are {found:?}, expected exactly ['descr', 'fortran_order', 'shape']"
    )]
    HeaderKeys {
        /// The file.
        file: Location,
        /// The keys found, as Python would print them.
        found: Vec<String>,
    },

    /// `shape` is not a tuple of non-negative integers.
    #[error("{file}: shape is not valid: {reason}")]
    InvalidShape {
        /// The file.
        file: Location,
        /// What is wrong with it.
        reason: String,
    },

    /// `fortran_order` is not `True` or `False`.
    #[error("{file}: fortran_order is not a bool (found {found})")]
    FortranOrderNotBool {
        /// The file.
        file: Location,
        /// The kind of value found.
        found: &'static str,
    },

    /// `descr` is not a dtype NumPy knows.
    #[error("{file}: descr {descr} is not a valid dtype descriptor")]
    InvalidDescr {
        /// The file.
        file: Location,
        /// The descriptor, as found.
        descr: String,
    },

    /// A dtype NumPy knows but libeko does not read (structured, object, strings, other widths).
    #[error("{file}: unsupported dtype {descr}: libeko reads f8, f4, c16, i8, i4, u1 and b1")]
    UnsupportedDtype {
        /// The file.
        file: Location,
        /// The descriptor, as found.
        descr: String,
    },

    /// Element count or byte size does not fit in memory arithmetic.
    #[error(
        "{file}: shape {shape:?} with {item_size}-byte elements overflows the addressable size"
    )]
    SizeOverflow {
        /// The file.
        file: Location,
        /// The shape.
        shape: Vec<u64>,
        /// Bytes per element.
        item_size: usize,
    },

    /// The caller asked for a different element type than the file holds.
    #[error("{file}: holds {found} elements where {expected} ones are needed")]
    DtypeMismatch {
        /// The file.
        file: Location,
        /// The requested element type.
        expected: &'static str,
        /// The stored element type.
        found: &'static str,
    },

    /// The caller asked for a different number of dimensions than the file holds.
    #[error("{file}: has {found} dimensions {shape:?}, {expected} were requested")]
    DimensionMismatch {
        /// The file.
        file: Location,
        /// Requested number of dimensions.
        expected: usize,
        /// Stored number of dimensions.
        found: usize,
        /// Stored shape.
        shape: Vec<usize>,
    },

    /// The caller asked for a particular shape and the file has another.
    #[error("{file}: has shape {found:?}, {expected:?} was required")]
    ShapeMismatch {
        /// The file.
        file: Location,
        /// Required shape.
        expected: Vec<usize>,
        /// Stored shape.
        found: Vec<usize>,
    },

    /// Zero-copy view refused: the data is not aligned for the element type.
    #[error(
        "{file}: data at offset {offset} is not aligned to {align} bytes; cannot view in place (use the copy path)"
    )]
    Misaligned {
        /// The file.
        file: Location,
        /// Offset of the data in the file.
        offset: u64,
        /// Alignment the element type needs.
        align: usize,
    },

    /// Zero-copy view refused: the data is stored in the other byte order.
    #[error(
        "{file}: data is {order}-endian, this machine is not; cannot view in place (use the copy path)"
    )]
    ForeignByteOrder {
        /// The file.
        file: Location,
        /// `big` or `little`.
        order: &'static str,
    },

    /// Zero-copy view refused: the member is compressed.
    #[error("{file}: member is deflate-compressed; cannot view in place (use the copy path)")]
    Compressed {
        /// The member.
        file: Location,
    },

    /// A bool array holds a byte other than 0 or 1, which a zero-copy `bool` view cannot represent.
    #[error(
        "{file}: bool element {index} has byte value {value}; cannot view as bool in place (use the copy path)"
    )]
    InvalidBool {
        /// The file.
        file: Location,
        /// Index of the element in memory order.
        index: usize,
        /// The byte found.
        value: u8,
    },

    /// The zip structure of an `.npz` archive is damaged or not supported.
    #[error("{file}: bad zip archive: {reason}")]
    ZipStructure {
        /// The archive or member.
        file: Location,
        /// What is wrong.
        reason: String,
    },

    /// An archive member is encrypted.
    #[error("{file}: member is encrypted; encrypted archives are not supported")]
    ZipEncrypted {
        /// The member.
        file: Location,
    },

    /// An archive member uses a compression method other than stored or deflate.
    #[error(
        "{file}: compression method {method} is not supported (only 0, stored, and 8, deflate)"
    )]
    ZipMethod {
        /// The member.
        file: Location,
        /// The zip method number.
        method: u16,
    },

    /// Two archive members claim the same bytes.
    #[error("{file}: member overlaps member '{other}'")]
    ZipOverlap {
        /// The member.
        file: Location,
        /// The other member.
        other: String,
    },

    /// A member's local header disagrees with its central directory record.
    #[error("{file}: local header and central directory disagree on the {field}")]
    ZipHeaderMismatch {
        /// The member.
        file: Location,
        /// The field that differs.
        field: &'static str,
    },

    /// The data of a member does not match its recorded CRC-32.
    #[error("{file}: CRC-32 mismatch: recorded {expected:#010x}, data has {found:#010x}")]
    ZipCrc {
        /// The member.
        file: Location,
        /// Recorded checksum.
        expected: u32,
        /// Computed checksum.
        found: u32,
    },

    /// A deflated member does not decompress to its recorded size.
    #[error(
        "{file}: deflate stream is invalid or does not match the recorded size of {expected} bytes: {reason}"
    )]
    ZipInflate {
        /// The member.
        file: Location,
        /// Recorded uncompressed size.
        expected: u64,
        /// What happened.
        reason: String,
    },

    /// Two members of one archive have the same name.
    #[error("{file}: name appears twice in the archive")]
    DuplicateMember {
        /// The member.
        file: Location,
    },

    /// An archive member that is not a `.npy` array.
    #[error("{file}: member is not a .npy array (its name does not end in '.npy')")]
    NotNpyMember {
        /// The member.
        file: Location,
    },

    /// The archive has no member of that name.
    #[error("{file}: no member named '{name}' (available: {available:?})")]
    NoSuchMember {
        /// The archive.
        file: Location,
        /// The key asked for.
        name: String,
        /// Keys present.
        available: Vec<String>,
    },

    /// An evolution point that cannot exist: μ² not finite or not positive, or nf above 6.
    #[error("invalid evolution point (mu2={mu2}, nf={nf}): {reason}")]
    InvalidPoint {
        /// The scale given.
        mu2: f64,
        /// The flavour number given.
        nf: u8,
        /// What is wrong.
        reason: &'static str,
    },

    /// A directory that is not a store: it has no `metadata.json`.
    #[error("{file}: not a libeko store (no metadata.json)")]
    NotAStore {
        /// The directory.
        file: Location,
    },

    /// `metadata.json` is unreadable or invalid.
    #[error("{file}: invalid store metadata: {reason}")]
    Metadata {
        /// The metadata file.
        file: Location,
        /// What is wrong.
        reason: String,
    },

    /// A file in a store directory that is not part of a store.
    #[error(
        "{file}: not a store file (expected metadata.json, thresholds.npz or MU2_nfNF[.part][.error].npy with a canonical MU2)"
    )]
    ForeignFile {
        /// The file.
        file: Location,
    },

    /// A directory that should be empty (or absent) is not.
    #[error("{file}: directory exists and is not empty")]
    NotEmpty {
        /// The directory.
        file: Location,
    },

    /// Two stores cannot be merged: their metadata differ.
    #[error("{file}: incompatible with {other}: {field} differs ({detail})")]
    Incompatible {
        /// One store's metadata file.
        file: Location,
        /// The other store.
        other: PathBuf,
        /// The metadata field that differs.
        field: &'static str,
        /// How.
        detail: String,
    },

    /// Two stores hold different data for the same point (or thresholds).
    #[error("{file}: conflicts with {other}: {what} differs")]
    Conflict {
        /// The file in one store.
        file: Location,
        /// The file in the other store.
        other: PathBuf,
        /// What is in conflict (`operator of (mu2=.., nf=..)`, `thresholds`).
        what: String,
    },

    /// No path leads from the store's origin to a point (a matching scale is missing).
    #[error("no evolution path to {point}: {reason}")]
    NoPath {
        /// The point.
        point: String,
        /// Why.
        reason: String,
    },

    /// A partial cannot be combined: a threshold operator on its path is missing.
    #[error("{file}: cannot combine {point}: missing {edge} (member {member})")]
    MissingEdge {
        /// The store's `thresholds.npz` (or the store directory when there is none).
        file: Location,
        /// The point whose partial needs it.
        point: String,
        /// The edge, in words.
        edge: String,
        /// The member name it would have.
        member: String,
    },

    /// A member of `thresholds.npz` that is not a threshold operator.
    #[error("{file}: not a threshold operator: {reason}")]
    ThresholdMember {
        /// The member.
        file: Location,
        /// Why.
        reason: String,
    },

    /// `clean` refused: partials that still need the thresholds are in the store.
    #[error(
        "{file}: {count} {} still need{} thresholds.npz (first: {first}); combine them first, or \
         clean with --force (C: force = 1; Python: force=True) to drop it anyway",
        if *count == 1 { "partial" } else { "partials" },
        if *count == 1 { "s" } else { "" }
    )]
    PartialsRemain {
        /// The store directory.
        file: Location,
        /// How many.
        count: usize,
        /// The first such point.
        first: String,
    },

    /// A producer (the caller's code computing an operator) failed.
    #[error("producer failed on {task}: {source}")]
    Producer {
        /// What it was computing.
        task: String,
        /// Its error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A caller passed arguments that do not fit together (shapes, missing factors).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },

    /// A store does not have the file asked for.
    #[error("{file}: no {kind} for {point}")]
    NoSuchPoint {
        /// The store directory.
        file: Location,
        /// The point.
        point: String,
        /// `operator`, `partial`, ...
        kind: &'static str,
    },

    /// A name that cannot be used for an archive member.
    #[error("{file}: invalid member name {name:?}: {reason}")]
    InvalidMemberName {
        /// The archive.
        file: Location,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },

    /// A path where a directory is needed (a store, a destination) is a file.
    #[error("{file}: is a file, not a directory (a store is a directory holding metadata.json)")]
    NotADirectory {
        /// The path.
        file: Location,
    },

    /// A file or directory would be written inside a store, which holds only its own files.
    #[error(
        "{file}: is inside the store {store}, which holds only its own files (operators, \
         metadata, thresholds); write it outside the store"
    )]
    InsideStore {
        /// The path that would be written.
        file: Location,
        /// The store.
        store: PathBuf,
    },

    /// A store-changing operation cannot write to the store (read-only filesystem or directory);
    /// checked before anything changes.
    #[error("{file}: cannot write to this store ({reason}); nothing was changed")]
    ReadOnly {
        /// The store directory.
        file: Location,
        /// Why.
        reason: String,
    },

    /// Another process is writing to the store and the caller asked not to wait.
    #[error(
        "{file}: another eko process{} is writing to this store; run again when it is done (or without --no-wait, Python wait=False, to wait for it)",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy {
        /// The store directory.
        file: Location,
        /// The pid that holds the store's lock, as far as the lock file says.
        holder: Option<u32>,
    },

    /// A move cannot take files out of a store (the directory is read-only or not ours);
    /// checked before anything changes.
    #[error(
        "{file}: cannot move files out of this store ({reason}); nothing was changed: use a link or copy transfer, or fix the permissions"
    )]
    CannotMove {
        /// The source store directory.
        file: Location,
        /// Why.
        reason: String,
    },

    /// A transform (reinterpolation onto another x grid, flavour rotation) that cannot be built
    /// or applied: a bad target grid, a degree the grid cannot carry, a singular rotation,
    /// metadata that lacks what reinterpolation needs, a buffer of the wrong shape.
    #[error("cannot transform: {reason}")]
    Transform {
        /// What is wrong, naming the field or argument and how to fix it.
        reason: String,
    },

    /// An operation that needs square operators (on the grid they were computed on) was given a
    /// reshaped store.
    #[error(
        "{file}: is a reshaped store (final operators of shape {shape:?}); {what} works on \
         square operators only: do it on the store before reshaping, then reshape"
    )]
    Reshaped {
        /// The store directory.
        file: Location,
        /// The final operators' shape.
        shape: [usize; 4],
        /// The operation (`combine`, `a partial`, ...).
        what: &'static str,
    },

    /// An evolution into an FK table (pineappl's `Grid::evolve`, or a slice a C host's
    /// pineappl asked of libeko) that cannot be done: a scale, x node, pid, convolution type or
    /// alpha_s the grid needs and the stores or the table do not have, a slice asked with sides
    /// other than the store serves, or pineappl's own refusal.
    #[error("cannot evolve the grid: {reason}")]
    Evolve {
        /// What is missing or wrong, naming the value and the option that fixes it.
        reason: String,
    },

    /// A dataset ([`crate::dataset`]) refused a call: memory of the wrong shape, layout or
    /// place, a duplicate, an attribute without memory, a step that lacks a factor or would
    /// write where it must not. `problem` says which check failed; the message names the buffer,
    /// the point and the attribute.
    #[error("{reason}")]
    Dataset {
        /// The check that failed.
        problem: DatasetProblem,
        /// What is wrong, naming the buffer and attribute.
        reason: String,
    },

    /// A Python eko archive (`.tar`) that cannot be read: not a tar, not an EKO, an unsupported
    /// format version, a malformed header or payload.
    #[error("{file}: {reason}")]
    EkoArchive {
        /// The archive, or the member at fault.
        file: Location,
        /// What is wrong.
        reason: String,
    },
}

/// Which check of a [`Dataset`](crate::dataset::Dataset) failed ([`Error::Dataset`]): what a
/// face of the dataset (the C ABI, the Python binding) reacts to, each with its own code or
/// exception, and to which it may add how its own functions fix the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatasetProblem {
    /// An argument that names nothing of the dataset (a buffer id, a threshold element that
    /// does not exist) or that the dataset cannot take now (the grid once buffers exist).
    InvalidArgument,
    /// Memory whose shape is not the grid's operator shape.
    BadShape,
    /// Memory neither C- nor Fortran-contiguous, or in another order than the buffer's other
    /// attribute.
    Layout,
    /// Memory overlapping memory already registered.
    Overlapping,
    /// A buffer for a point and kind, or a threshold element, or an error attribute, that the
    /// dataset already has.
    Duplicate,
    /// A buffer without the error attribute the call names.
    NoErrorAttribute,
    /// A step that needs an attached store, on a dataset without one.
    NoStore,
    /// An attribute that has memory already, or a dataset already attached to a store.
    AlreadyBound,
    /// A step that needs memory of an attribute declared without and not bound since.
    Unbound,
    /// A destination combine must not write: read-only memory, a store file.
    ReadOnly,
    /// Combine needs a threshold element the dataset has no buffer for.
    MissingThreshold,
    /// A final buffer has an error attribute, but the error cannot be computed (the partial or
    /// a threshold element on its path has no error).
    MissingError,
}

/// The families of errors a caller reacts to differently, coarser than the variants: what the
/// Python package raises as `libeko.NotFoundError`, `IncompatibleError`, `MalformedFileError`,
/// `IoError` and `InvalidArgumentError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorFamily {
    /// Something asked for is not there: a point, a store, a threshold operator.
    NotFound,
    /// Things that do not fit together: grids, shapes, conflicting data, a reshaped store.
    Incompatible,
    /// A file that is not what it claims: a damaged or foreign file, bad metadata, an archive.
    MalformedFile,
    /// The operating system refused, or another process holds the store.
    Io,
    /// An argument that makes no sense.
    InvalidArgument,
    /// A producer (a caller's own code) failed.
    Producer,
}

impl Error {
    /// The error's [`ErrorFamily`].
    pub fn family(&self) -> ErrorFamily {
        use ErrorFamily::*;
        // Exhaustive on purpose: a new variant must be given its family here.
        match self {
            Error::Io { .. }
            | Error::Busy { .. }
            | Error::ReadOnly { .. }
            | Error::CannotMove { .. } => Io,
            Error::NoSuchPoint { .. }
            | Error::NotAStore { .. }
            | Error::MissingEdge { .. }
            | Error::NoPath { .. }
            | Error::NoSuchMember { .. } => NotFound,
            Error::Incompatible { .. }
            | Error::Conflict { .. }
            | Error::ShapeMismatch { .. }
            | Error::Reshaped { .. }
            | Error::PartialsRemain { .. } => Incompatible,
            Error::InvalidPoint { .. }
            | Error::InvalidArgument { .. }
            | Error::InsideStore { .. }
            | Error::NotEmpty { .. }
            | Error::NotADirectory { .. }
            | Error::Transform { .. }
            | Error::Evolve { .. } => InvalidArgument,
            Error::Producer { .. } => Producer,
            Error::Dataset { problem, .. } => match problem {
                DatasetProblem::BadShape
                | DatasetProblem::Layout
                | DatasetProblem::Overlapping
                | DatasetProblem::Duplicate
                | DatasetProblem::AlreadyBound
                | DatasetProblem::ReadOnly
                | DatasetProblem::MissingError => Incompatible,
                DatasetProblem::NoErrorAttribute
                | DatasetProblem::NoStore
                | DatasetProblem::MissingThreshold => NotFound,
                DatasetProblem::InvalidArgument | DatasetProblem::Unbound => InvalidArgument,
            },
            Error::BadMagic { .. }
            | Error::Truncated { .. }
            | Error::UnsupportedVersion { .. }
            | Error::HeaderTooLong { .. }
            | Error::HeaderEncoding { .. }
            | Error::HeaderSyntax { .. }
            | Error::HeaderNesting { .. }
            | Error::HeaderNotDict { .. }
            | Error::HeaderKeys { .. }
            | Error::InvalidShape { .. }
            | Error::FortranOrderNotBool { .. }
            | Error::InvalidDescr { .. }
            | Error::UnsupportedDtype { .. }
            | Error::SizeOverflow { .. }
            | Error::DtypeMismatch { .. }
            | Error::DimensionMismatch { .. }
            | Error::Misaligned { .. }
            | Error::ForeignByteOrder { .. }
            | Error::Compressed { .. }
            | Error::InvalidBool { .. }
            | Error::ZipStructure { .. }
            | Error::ZipEncrypted { .. }
            | Error::ZipMethod { .. }
            | Error::ZipOverlap { .. }
            | Error::ZipHeaderMismatch { .. }
            | Error::ZipCrc { .. }
            | Error::ZipInflate { .. }
            | Error::DuplicateMember { .. }
            | Error::NotNpyMember { .. }
            | Error::ThresholdMember { .. }
            | Error::InvalidMemberName { .. }
            | Error::Metadata { .. }
            | Error::ForeignFile { .. }
            | Error::EkoArchive { .. } => MalformedFile,
        }
    }
}

/// libeko's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a file location and an operation name to `io::Error`s.
pub(crate) trait IoContext<T> {
    fn io_context(self, file: &Location, operation: &'static str) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn io_context(self, file: &Location, operation: &'static str) -> Result<T> {
        self.map_err(|source| Error::Io {
            file: file.clone(),
            operation,
            source,
        })
    }
}

/// Escapes bytes for an error message the way Python prints `bytes`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
