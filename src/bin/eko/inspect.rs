//! `eko inspect PATH`: what a file is.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use eko::npy::header::shape_text;
use eko::npy::{InPlace, NpyFile, NpyHeader};
use eko::npz::{Compression, NpzFile, NpzMember};
use serde::Serialize;

/// Arguments of `eko inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// A .npy file or an .npz archive.
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
#[serde(tag = "kind", rename_all = "lowercase")]
enum Report {
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
    let report = if looks_like_zip(args) {
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
        Report::Npy { path, array } => {
            out += &format!("{}: .npy file\n", path.display());
            render_array(&mut out, array, "  ");
        }
        Report::Npz { path, members } => {
            out += &format!(
                "{}: .npz archive, {} member(s)\n",
                path.display(),
                members.len()
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
