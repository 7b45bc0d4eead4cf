//! `eko inspect PATH`: what a file is.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use eko::npy::header::shape_text;
use eko::npy::{InPlace, NpyFile, NpyHeader};
use eko::npz::{Compression, NpzFile, NpzMember};
use eko::store::{
    Basis, EvolutionPath, FileKind, Interpolation, Leftovers, Metadata, Store, THRESHOLDS_FILE,
};
use serde::Serialize;

/// Arguments of `eko inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// A store directory, a .npy file or an .npz archive.
    path: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ArrayReport {
    version: String,
    dtype: String,
    element: &'static str,
    byte_order: &'static str,
    memory_order: &'static str,
    shape: Vec<usize>,
    elements: usize,
    data_bytes: usize,
    /// Offset of the data from the start of the file (the archive, for a stored member; none
    /// for a compressed member, whose data exists only once decompressed).
    data_offset: Option<u64>,
    zero_copy: bool,
    zero_copy_detail: String,
}

impl ArrayReport {
    fn new(header: &NpyHeader, data_offset: Option<u64>, in_place: InPlace) -> Self {
        ArrayReport {
            version: header.version.to_string(),
            dtype: header.dtype.descr(),
            element: header.dtype.kind.name(),
            byte_order: header.dtype.byte_order.name(),
            memory_order: header.order.name(),
            shape: header.shape.clone(),
            elements: header.len(),
            data_bytes: header.data_len(),
            data_offset,
            zero_copy: in_place.is_yes(),
            zero_copy_detail: in_place.describe(),
        }
    }
}

#[derive(Serialize)]
struct MemberReport {
    key: String,
    zip_name: String,
    compression: &'static str,
    compressed_size: u64,
    uncompressed_size: u64,
    #[serde(flatten)]
    array: ArrayReport,
}

impl MemberReport {
    fn new(m: &NpzMember) -> Self {
        MemberReport {
            key: m.key.clone(),
            zip_name: m.zip_name.clone(),
            compression: m.compression.name(),
            compressed_size: m.compressed_size,
            uncompressed_size: m.uncompressed_size,
            array: ArrayReport::new(
                &m.header,
                (m.compression == Compression::Stored).then(|| m.array_offset()),
                m.in_place(),
            ),
        }
    }
}

#[derive(Serialize)]
struct PointReport {
    mu2: f64,
    nf: u8,
    /// File name and size in bytes, per kind present.
    files: Vec<FileReport>,
}

#[derive(Serialize)]
struct FileReport {
    kind: &'static str,
    name: String,
    bytes: u64,
    /// An error file whose operator or partial is missing (an interrupted writer): ignored.
    orphan: bool,
}

/// One partial as `eko combine` sees it.
#[derive(Serialize)]
struct PartReport {
    mu2: f64,
    nf: u8,
    /// Every threshold operator is there.
    combinable: bool,
    /// The final operator will have an error.
    final_error: bool,
    /// The elements of the product in the order they apply (first applied first, the partial
    /// last): `thresholds.npz/<member>` and the partial's file.
    elements: Vec<String>,
    /// Members the path needs that `thresholds.npz` lacks.
    missing: Vec<String>,
    /// Why no path exists, if none does.
    problem: Option<String>,
}

/// One side of the final operators, as inspect shows it.
#[derive(Serialize)]
struct SideReport {
    n_pid: usize,
    n_x: usize,
    x_min: f64,
    x_max: f64,
    basis: Basis,
    reshaped: bool,
}

impl SideReport {
    fn new(xgrid: &[f64], pids: &[i32], reshaped: bool) -> Self {
        SideReport {
            n_pid: pids.len(),
            n_x: xgrid.len(),
            x_min: xgrid.first().copied().unwrap_or(f64::NAN),
            x_max: xgrid.last().copied().unwrap_or(f64::NAN),
            basis: Basis::of(pids),
            reshaped,
        }
    }

    fn text(&self) -> String {
        format!(
            "{} pids ({} basis) x {} x points ({} .. {}){}",
            self.n_pid,
            self.basis,
            self.n_x,
            x_text(self.x_min),
            x_text(self.x_max),
            if self.reshaped { ", reshaped" } else { "" }
        )
    }
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Report {
    Store {
        path: PathBuf,
        metadata: Box<Metadata>,
        operator_shape: [usize; 4],
        /// The final operators' sides: x grid, pids and basis.
        output: SideReport,
        input: SideReport,
        interpolation: Option<Interpolation>,
        thresholds: Option<FileReport>,
        operators: usize,
        partials: usize,
        total_bytes: u64,
        points: Vec<PointReport>,
        /// What `eko combine` would do with each partial.
        combine: Vec<PartReport>,
        /// What interrupted writers left, and whether `eko recover` is needed.
        leftovers: Box<Leftovers>,
        recover_needed: bool,
    },
    Npy {
        path: PathBuf,
        #[serde(flatten)]
        array: ArrayReport,
    },
    Npz {
        path: PathBuf,
        members: Vec<MemberReport>,
    },
}

/// Runs the command.
pub fn run(args: &Args) -> eko::Result<()> {
    let report = if args.path.is_dir() {
        store_report(&args.path)?
    } else if looks_like_zip(args) {
        let npz = NpzFile::open(&args.path)?;
        Report::Npz {
            path: args.path.clone(),
            members: npz.members().iter().map(MemberReport::new).collect(),
        }
    } else {
        let npy = NpyFile::open(&args.path)?;
        let header = npy.header();
        Report::Npy {
            path: args.path.clone(),
            array: ArrayReport::new(header, Some(header.data_offset as u64), npy.in_place()),
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report).expect("reports serialize")
    } else {
        render(&report)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`eko inspect x | head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{text}");
    Ok(())
}

fn file_report(
    path: &std::path::Path,
    kind: &'static str,
    orphan: bool,
) -> eko::Result<FileReport> {
    let bytes = std::fs::metadata(path)
        .map_err(|source| eko::Error::Io {
            file: eko::Location::file(path),
            operation: "stat",
            source,
        })?
        .len();
    Ok(FileReport {
        kind,
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        orphan,
    })
}

fn store_report(dir: &std::path::Path) -> eko::Result<Report> {
    let store = Store::open(dir)?;
    let mut points = Vec::new();
    let mut total = 0;
    for (point, files) in store.points() {
        let orphans: Vec<FileKind> = files.orphans().collect();
        let files = files
            .kinds()
            .map(|kind| {
                file_report(
                    &store.path_of(&point, kind),
                    kind.name(),
                    orphans.contains(&kind),
                )
            })
            .collect::<eko::Result<Vec<_>>>()?;
        total += files.iter().map(|f| f.bytes).sum::<u64>();
        points.push(PointReport {
            mu2: point.mu2,
            nf: point.nf,
            files,
        });
    }
    let thresholds = store
        .has_thresholds()
        .then(|| file_report(&store.thresholds_path(), "thresholds", false))
        .transpose()?;
    total += thresholds.as_ref().map_or(0, |t| t.bytes);
    let combine = combine_report(&store)?;
    let leftovers = store.leftovers()?;
    Ok(Report::Store {
        combine,
        recover_needed: leftovers.needs_recovery(),
        leftovers: Box::new(leftovers),
        path: dir.to_path_buf(),
        operator_shape: store.metadata().operator_shape(),
        output: SideReport::new(
            store.metadata().output_xgrid(),
            store.metadata().output_pids(),
            store.metadata().output.is_some(),
        ),
        input: SideReport::new(
            store.metadata().input_xgrid(),
            store.metadata().input_pids(),
            store.metadata().input.is_some(),
        ),
        interpolation: store.metadata().interpolation(),
        metadata: Box::new(store.metadata().clone()),
        thresholds,
        operators: store.points_with(FileKind::Operator).count(),
        partials: store.points_with(FileKind::Partial).count(),
        total_bytes: total,
        points,
    })
}

fn combine_report(store: &Store) -> eko::Result<Vec<PartReport>> {
    let thresholds = store.thresholds()?;
    let m = store.metadata();
    Ok(store
        .points_with(FileKind::Partial)
        .map(|point| {
            let mut part = PartReport {
                mu2: point.mu2,
                nf: point.nf,
                combinable: false,
                final_error: false,
                elements: Vec::new(),
                missing: Vec::new(),
                problem: None,
            };
            match EvolutionPath::new(m.origin, &m.matching, point) {
                Ok(path) => {
                    let has = |e| thresholds.as_ref().is_some_and(|t| t.contains(e));
                    for e in &path.thresholds {
                        let member = format!("{}.npy", e.key());
                        if !has(e) {
                            part.missing.push(member.clone());
                        }
                        part.elements.push(format!("{THRESHOLDS_FILE}/{member}"));
                    }
                    part.elements.push(FileKind::Partial.file_name(&point));
                    part.combinable = part.missing.is_empty();
                    part.final_error = store.files_of(&point).has(FileKind::PartialError)
                        && path
                            .thresholds
                            .iter()
                            .all(|e| thresholds.as_ref().is_some_and(|t| t.has_error(e)));
                }
                Err(e) => part.problem = Some(e.to_string()),
            }
            part
        })
        .collect())
}

/// Zip archives start with a local header (or, when empty, the end record).
fn looks_like_zip(args: &Args) -> bool {
    let mut magic = [0u8; 4];
    let read = File::open(&args.path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Ok(()) => &magic == b"PK\x03\x04" || &magic == b"PK\x05\x06",
        Err(_) => args.path.extension().is_some_and(|e| e == "npz"),
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    match report {
        Report::Store {
            path,
            metadata,
            operator_shape,
            output,
            input,
            interpolation,
            thresholds,
            operators,
            partials,
            total_bytes,
            points,
            combine,
            leftovers,
            recover_needed,
        } => {
            let m = metadata;
            out += &format!(
                "{}: libeko store ({} version {})\n",
                path.display(),
                m.format,
                m.format_version
            );
            out += &format!(
                "  origin         mu2 = {}, nf = {}\n",
                m.origin.mu2, m.origin.nf
            );
            let computed = SideReport::new(&m.xgrid, &m.pids, false);
            if m.is_reshaped() {
                out += &format!(
                    "  computed on    {}\n  output side    {}\n  input side     {}\n  \
                     operators      shape {} (reshaped: final operators only)\n",
                    computed.text(),
                    output.text(),
                    input.text(),
                    shape_text(operator_shape)
                );
            } else {
                out += &format!(
                    "  grid           {}, operators of shape {}\n",
                    computed.text(),
                    shape_text(operator_shape)
                );
            }
            out += &format!(
                "  interpolation  {}\n",
                interpolation.map_or_else(
                    || "not recorded (give --interpolation to reshape)".to_string(),
                    |i| i.to_string()
                )
            );
            let scale = |s: Option<f64>| s.map_or("none".to_string(), |v| v.to_string());
            out += &format!(
                "  matching mu2   charm {}, bottom {}, top {}\n",
                scale(m.matching.charm),
                scale(m.matching.bottom),
                scale(m.matching.top)
            );
            out += &format!(
                "  contents       {}, {}, thresholds.npz: {}; {total_bytes} bytes in all\n",
                crate::count(*operators, "operator"),
                crate::count(*partials, "partial"),
                thresholds
                    .as_ref()
                    .map_or("none".to_string(), |t| format!("{} bytes", t.bytes))
            );
            for p in points {
                let files: Vec<String> = p
                    .files
                    .iter()
                    .map(|f| {
                        format!(
                            "{} ({} bytes{})",
                            f.name,
                            f.bytes,
                            if f.orphan { ", orphan: ignored" } else { "" }
                        )
                    })
                    .collect();
                out += &format!(
                    "  mu2 = {:<22} nf = {}  {}\n",
                    p.mu2,
                    p.nf,
                    files.join(", ")
                );
            }
            render_leftovers(&mut out, path, leftovers, *recover_needed);
            if !combine.is_empty() {
                let ready = combine.iter().filter(|p| p.combinable).count();
                out += &format!(
                    "  combine        {ready} of {} can be combined (elements in the order they apply)\n",
                    crate::count(combine.len(), "partial")
                );
                for p in combine {
                    let head = format!("  mu2 = {:<22} nf = {}  ", p.mu2, p.nf);
                    out += &match (&p.problem, p.combinable) {
                        (Some(problem), _) => format!("{head}no path: {problem}\n"),
                        (None, true) => format!(
                            "{head}ready{}: {}\n",
                            if p.final_error { ", with error" } else { "" },
                            p.elements.join(" -> ")
                        ),
                        (None, false) => {
                            format!(
                                "{head}missing in {THRESHOLDS_FILE}: {}\n",
                                p.missing.join(", ")
                            )
                        }
                    };
                }
            }
        }
        Report::Npy { path, array } => {
            out += &format!("{}: .npy file\n", path.display());
            render_array(&mut out, array, "  ");
        }
        Report::Npz { path, members } => {
            out += &format!(
                "{}: .npz archive, {}\n",
                path.display(),
                crate::count(members.len(), "member")
            );
            for m in members {
                out += &format!(
                    "  member '{}' ({}, {} bytes in the archive)\n",
                    m.key, m.compression, m.compressed_size
                );
                render_array(&mut out, &m.array, "    ");
            }
        }
    }
    out.trim_end().to_string()
}

fn render_leftovers(out: &mut String, path: &std::path::Path, l: &Leftovers, needed: bool) {
    if l.unfinished.is_none() && l.temporaries.is_empty() && l.orphans.is_empty() {
        return;
    }
    if let Some(op) = &l.unfinished {
        *out += &format!("  leftover       an unfinished {op} (its process is gone)\n");
    }
    for t in &l.temporaries {
        *out += &format!(
            "  leftover       temporary {} ({} bytes): {}\n",
            t.path.display(),
            t.bytes,
            if t.alive {
                "its writer is still running"
            } else {
                "its writer is gone"
            }
        );
    }
    for o in &l.orphans {
        *out += &format!(
            "  leftover       orphan error file {} (its operator or partial is gone)\n",
            o.display()
        );
    }
    if needed {
        *out += &format!(
            "  recover        run `eko recover {}` (or rerun the interrupted command) to clear these\n",
            path.display()
        );
    }
}

fn render_array(out: &mut String, a: &ArrayReport, indent: &str) {
    let shape = shape_text(&a.shape);
    let rows = [
        ("format version", a.version.clone()),
        (
            "dtype",
            format!("{} ({}, byte order: {})", a.dtype, a.element, a.byte_order),
        ),
        ("memory order", a.memory_order.to_string()),
        (
            "shape",
            format!("{shape}: {} elements, {} bytes", a.elements, a.data_bytes),
        ),
        (
            "data offset",
            a.data_offset
                .map_or_else(|| "none (compressed)".to_string(), |o| o.to_string()),
        ),
        ("zero copy", a.zero_copy_detail.clone()),
    ];
    for (name, value) in rows {
        out.push_str(&format!("{indent}{name:<15}{value}\n"));
    }
}

/// An x value as people write them: `1e-7` rather than `0.0000001`.
fn x_text(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}
