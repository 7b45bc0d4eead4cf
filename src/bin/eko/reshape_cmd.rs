//! `eko reshape`: a store's operators on other x grids or in another flavour basis, as a new
//! store; and the same transform options for `eko apply`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::Failure;
use eko::store::{Basis, Interpolation, Store};
use eko::transform::{Rotation, SideChange, TransformSpec, reshape};

/// A basis to rotate a side to.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BasisArg {
    /// The evolution basis (22, 100, 21, 200, 203, ..., 135), as pineko and pineappl use it.
    Evol,
    /// eko's flavour basis (22, -6 .. -1, 21, 1 .. 6).
    Flavor,
}

/// The transform options, shared by `eko reshape` and `eko apply`.
#[derive(clap::Args, Default)]
pub struct TransformArgs {
    /// Reinterpolate the output side (x_out) onto these x values: a .npy vector or a text file of
    /// numbers (strictly increasing in (0, 1]).
    #[arg(long, value_name = "FILE")]
    xgrid_out: Option<PathBuf>,
    /// Reinterpolate the input side (x_in) onto these x values (a .npy vector or a text file).
    #[arg(long, value_name = "FILE")]
    xgrid_in: Option<PathBuf>,
    /// Rotate the output side (pid_out) to this basis.
    #[arg(long, value_enum, value_name = "BASIS")]
    basis_out: Option<BasisArg>,
    /// Rotate the input side (pid_in) to this basis (pineko: evol).
    #[arg(long, value_enum, value_name = "BASIS")]
    basis_in: Option<BasisArg>,
    /// The interpolation to reinterpolate with, as log:DEGREE or linear:DEGREE, when the store
    /// records none or to override it (eko's default: log:4).
    #[arg(long, value_name = "MODE:DEGREE", value_parser = parse_interpolation)]
    interpolation: Option<Interpolation>,
}

impl TransformArgs {
    /// The transform asked for, reading the grid files.
    pub fn spec(&self) -> Result<TransformSpec, Failure> {
        let side =
            |xgrid: &Option<PathBuf>, basis: Option<BasisArg>| -> Result<SideChange, Failure> {
                Ok(SideChange {
                    xgrid: xgrid.as_deref().map(read_xgrid).transpose()?,
                    rotation: basis.map(|b| {
                        Rotation::To(match b {
                            BasisArg::Evol => Basis::Evol,
                            BasisArg::Flavor => Basis::Flavor,
                        })
                    }),
                })
            };
        Ok(TransformSpec {
            output: side(&self.xgrid_out, self.basis_out)?,
            input: side(&self.xgrid_in, self.basis_in)?,
            interpolation: self.interpolation,
        })
    }

    /// Where the new grids came from, for the new store's metadata.
    fn provenance(&self, source: &Path) -> serde_json::Value {
        let file = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        };
        serde_json::json!({
            "source": std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf()),
            "xgrid_out_file": file(&self.xgrid_out),
            "xgrid_in_file": file(&self.xgrid_in),
            "by": format!("eko reshape (libeko {})", env!("CARGO_PKG_VERSION")),
        })
    }
}

pub fn parse_interpolation(text: &str) -> Result<Interpolation, String> {
    let (mode, degree) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not MODE:DEGREE (for example log:4 or linear:1)"))?;
    let log = match mode {
        "log" => true,
        "linear" => false,
        _ => return Err(format!("mode {mode:?} is neither log nor linear")),
    };
    let polynomial_degree: u32 = degree
        .parse()
        .ok()
        .filter(|d| *d >= 1)
        .ok_or_else(|| format!("degree {degree:?} is not a whole number of at least 1"))?;
    Ok(Interpolation {
        polynomial_degree,
        log,
    })
}

/// Reads x values: a `.npy` vector (f64 or f32) or a text file of numbers separated by spaces,
/// commas or newlines (`#` starts a comment).
pub fn read_xgrid(path: &Path) -> Result<Vec<f64>, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::Usage(format!(
            "cannot read the x grid file {}: {e}",
            path.display()
        ))
    })?;
    if bytes.starts_with(b"\x93NUMPY") {
        let file = eko::npy::NpyFile::open(path)?;
        let shape = file.header().shape.clone();
        let values: Vec<f64> = match (file.read::<f64>(), file.read::<f32>()) {
            (Ok(a), _) => a.iter().copied().collect(),
            (_, Ok(a)) => a.iter().map(|v| f64::from(*v)).collect(),
            _ => {
                return Err(Failure::Usage(format!(
                    "the x grid file {} holds {} values; give float64 or float32",
                    path.display(),
                    file.header().dtype.descr()
                )));
            }
        };
        if shape.len() != 1 {
            return Err(Failure::Usage(format!(
                "the x grid file {} holds an array of shape {shape:?}; give a vector",
                path.display()
            )));
        }
        return Ok(values);
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::Usage(format!(
            "the x grid file {} is neither a .npy file nor text",
            path.display()
        ))
    })?;
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split(|c: char| c.is_whitespace() || c == ',') {
            if word.is_empty() {
                continue;
            }
            values.push(word.parse::<f64>().map_err(|_| {
                Failure::Usage(format!(
                    "the x grid file {}, line {}: {word:?} is not a number",
                    path.display(),
                    n + 1
                ))
            })?);
        }
    }
    if values.is_empty() {
        return Err(Failure::Usage(format!(
            "the x grid file {} holds no number",
            path.display()
        )));
    }
    Ok(values)
}

/// Arguments of `eko reshape`.
#[derive(clap::Args)]
pub struct ReshapeArgs {
    /// The store (final operators; run `eko combine` first if it holds partials).
    store: PathBuf,
    /// The new store (must not exist, or be an empty directory).
    out: PathBuf,
    #[command(flatten)]
    transform: TransformArgs,
    /// Threads per operator (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko reshape`.
pub fn run_reshape(args: &ReshapeArgs) -> Result<(), Failure> {
    let threads = crate::threads(args.threads)?;
    let spec = args.transform.spec()?;
    if spec.is_empty() {
        return Err(Failure::Usage(
            "nothing to reshape: give --xgrid-out, --xgrid-in, --basis-out or --basis-in".into(),
        ));
    }
    let store = Store::open(&args.store)?;
    let started = Instant::now();
    let bar = crate::progress::Bar::new("reshape");
    let report = reshape(
        &store,
        &args.out,
        &spec,
        threads,
        args.transform.provenance(&args.store),
        |p| bar.update(p.done, p.total, &p.point),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        crate::print_json(&serde_json::json!({"report": report, "seconds": seconds}));
    } else {
        let new = Store::open(&args.out)?;
        let m = new.metadata();
        println!(
            "reshaped {} into {} in {:.2} s ({:.1} ms per operator): {} ({} with an error), \
             shape {:?} -> {:?}; output side {} x values, {} basis; input side {} x values, {} \
             basis",
            crate::count(report.points.len(), "operator"),
            args.out.display(),
            seconds,
            1e3 * seconds / report.points.len() as f64,
            crate::count(report.points.len(), "point"),
            report.errors,
            report.shape_before,
            report.shape_after,
            m.output_xgrid().len(),
            Basis::of(m.output_pids()),
            m.input_xgrid().len(),
            Basis::of(m.input_pids()),
        );
    }
    Ok(())
}
