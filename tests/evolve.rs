//! FK tables from stores (issue 15): `eko::pineappl::evolve` and `eko evolve` against pineappl's
//! own Python package fed by eko's own reading of the same EKO.
//!
//! - The EKO: made by the eko package (tests/python/check_evolve.py; final operators with
//!   errors at five scales, the bottom matching scale at nf = 4 and 5; interpolation of degree 3
//!   in ln x), imported with `eko::archive::import`.
//! - The grids: DIS-like, built here with the pineappl crate (one unpolarised-PDF convolution,
//!   three orders of which two have alpha_s and one a factorisation-scale logarithm, four bins,
//!   three channels, imported subgrids whose scales and x nodes are the store's, or x nodes off
//!   the store's grid), written as `.pineappl.lz4`.
//! - The references: FK tables made by pineappl's Python package from `eko.EKO.read` slices,
//!   (a) directly (reinterpolated, where needed, by the exact Lagrange reference of
//!   check_transform.py) and (b) exactly as pineko makes them (`xgrid_reshape(targetgrid=...)`,
//!   `to_evol(source=True)`).
//! - Compared: libeko's FK tables (library and command line) with (a) entry by entry within
//!   1e-12 of the table's largest entry and with (b) within eko's own interpolation inaccuracy;
//!   the command line's with the library's bit for bit; and each FK table convolved with a toy
//!   PDF against the grid convolved with that PDF evolved by the store's operators.
//! - Bad input: a scale the store lacks, an ambiguous scale without `--nf-at`, x nodes below the
//!   store's x grid, a fragmentation-function grid with a PDF store, alpha_s missing at a scale
//!   or missing altogether: each refused with a message naming the problem, nothing written.

mod common;

use common::grids::dis_grid;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use eko::pineappl::{
    ConvType, EvolveOptions, FkAssumptions, FkBasis, FkTable, Grid, conv_type, evolve, read_alphas,
    write_fk_table,
};
use eko::slices::same_node;
use eko::store::{EvolutionPoint, FLAVOR_BASIS, Interpolation, Store};
use pineappl::convolutions::ConvolutionCache;
use pineappl::pids::PidBasis;
use serde_json::{Value, json};

/// The EKO made by check_evolve.py, imported.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    store: Store,
    xgrid: Vec<f64>,
    /// The bottom matching scale 4.92², which the store holds at nf = 4 and 5 (its other scales:
    /// 4, 100, 400, 2500).
    mb2: f64,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let made: Value = serde_json::from_str(&common::run_python(
            "check_evolve.py",
            &[Path::new("make"), &dir],
        ))
        .unwrap();
        let store_dir = dir.join("store");
        let report = eko::archive::import(
            Path::new(made["archive"].as_str().unwrap()),
            &store_dir,
            |_| {},
        )
        .unwrap();
        assert_eq!(report.operators.len(), 6);
        let store = Store::open(&store_dir).unwrap();
        let m = store.metadata();
        assert_eq!(
            m.interpolation,
            Some(Interpolation {
                polynomial_degree: 3,
                log: true
            }),
            "the import did not record the card's interpolation"
        );
        assert_eq!(conv_type(m), ConvType::UnpolPDF);
        assert_eq!(m.origin.mu2, made["mu0sq"].as_f64().unwrap());
        let xgrid: Vec<f64> = made["xgrid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(m.xgrid, xgrid);
        let mut points: Vec<(f64, u8)> = store.points().map(|(p, _)| (p.mu2, p.nf)).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mb2 = 4.92f64 * 4.92;
        assert_eq!(
            points,
            [
                (4.0, 4),
                (mb2, 4),
                (mb2, 5),
                (100.0, 5),
                (400.0, 5),
                (2500.0, 5)
            ]
        );
        Fixture {
            _tmp: tmp,
            dir,
            store,
            xgrid,
            mb2,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

// --- grids ---------------------------------------------------------------------------------

fn write_grid(grid: &Grid, path: &Path) {
    grid.write_lz4(File::create(path).unwrap()).unwrap();
}

fn read_fk(path: &Path) -> FkTable {
    let grid =
        Grid::read(File::open(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    FkTable::try_from(grid).unwrap_or_else(|_| panic!("{} is no FK table", path.display()))
}

/// x nodes: the store's x values at `indices`.
fn on_grid(xgrid: &[f64], indices: &[usize]) -> Vec<f64> {
    indices.iter().map(|&i| xgrid[i]).collect()
}

/// x nodes off the store's grid: the geometric means of the store's x values `i` and `i + 1`.
fn off_grid(xgrid: &[f64], indices: &[usize]) -> Vec<f64> {
    indices
        .iter()
        .map(|&i| (xgrid[i] * xgrid[i + 1]).sqrt())
        .collect()
}

/// Every grid the tests use, written beside the store.
struct Grids {
    /// On the store's x grid, scales 24.2064 (ambiguous), 100, 400, 2500.
    on: PathBuf,
    /// On the store's x grid, scales 25, 100, 625: with xif = 2 the store's 100, 400, 2500.
    xif: PathBuf,
    /// x nodes between the store's, scales as `on`.
    off: PathBuf,
    /// `on` with x nodes below the store's smallest x.
    low: PathBuf,
    /// `on` with a fragmentation function instead of the PDF.
    ff: PathBuf,
}

fn grids(f: &Fixture) -> Grids {
    let x = &f.xgrid;
    let on_x = vec![
        on_grid(x, &[1, 3, 5, 7, 9, 11]),
        on_grid(x, &[0, 2, 4, 6, 8, 10, 12]),
        on_grid(x, &[2, 3, 4, 5, 6, 7, 8, 9]),
        on_grid(x, &[5, 7, 9, 11, 13]),
    ];
    let scales = vec![
        vec![f.mb2],
        vec![100.0, 400.0],
        vec![400.0],
        vec![100.0, 2500.0],
    ];
    let off_x = vec![
        off_grid(x, &[0, 2, 4, 6]),
        off_grid(x, &[1, 3, 5, 7, 9]),
        off_grid(x, &[6, 8, 10, 12]),
        off_grid(x, &[9, 11, 13]),
    ];
    for nodes in &off_x {
        for v in nodes {
            assert!(!x.iter().any(|y| same_node(*v, *y)), "{v} is on the grid");
        }
    }
    let mut low_x = on_x.clone();
    low_x[0].insert(0, 1e-5);
    low_x[1].insert(0, 5e-5);
    let made = Grids {
        on: f.path("on.pineappl.lz4"),
        xif: f.path("xif.pineappl.lz4"),
        off: f.path("off.pineappl.lz4"),
        low: f.path("low.pineappl.lz4"),
        ff: f.path("ff.pineappl.lz4"),
    };
    let pdf = ConvType::UnpolPDF;
    write_grid(&dis_grid(pdf, &scales, &on_x), &made.on);
    write_grid(
        &dis_grid(
            pdf,
            &[vec![25.0], vec![100.0], vec![625.0], vec![25.0, 625.0]],
            &on_x,
        ),
        &made.xif,
    );
    write_grid(&dis_grid(pdf, &scales, &off_x), &made.off);
    write_grid(&dis_grid(pdf, &scales, &low_x), &made.low);
    write_grid(&dis_grid(ConvType::UnpolFF, &scales, &on_x), &made.ff);
    made
}

// --- cases ---------------------------------------------------------------------------------

/// One evolution, as both sides run it.
struct Case {
    name: &'static str,
    grid: PathBuf,
    /// The `--orders` option and its mask (None: all orders).
    orders: Option<(&'static str, Vec<bool>)>,
    xi: (f64, f64, f64),
    /// The nf at the ambiguous scale, if the grid needs it.
    nf: Option<u8>,
    evol: bool,
    assumptions: Option<&'static str>,
    /// Whether the grid's x nodes are off the store's grid.
    reinterpolated: bool,
    /// An interpolation degree (in ln x) instead of the store's (3).
    degree: Option<u32>,
}

impl Case {
    fn nf_at(&self, f: &Fixture) -> Vec<EvolutionPoint> {
        self.nf
            .map(|nf| common::point(f.mb2, nf))
            .into_iter()
            .collect()
    }

    fn order_mask(&self) -> Vec<bool> {
        self.orders
            .as_ref()
            .map(|o| o.1.clone())
            .unwrap_or_default()
    }

    fn json(&self, f: &Fixture) -> Value {
        json!({
            "name": self.name,
            "grid": self.grid,
            "order_mask": self.orders.as_ref().map(|o| o.1.clone()),
            "xi": [self.xi.0, self.xi.1, self.xi.2],
            "nf_at": self.nf_at(f).iter().map(|p| json!([p.mu2, p.nf])).collect::<Vec<_>>(),
            "basis": if self.evol { "evol" } else { "pdg" },
            "assumptions": self.assumptions,
            "degree": self.degree,
        })
    }

    /// `eko evolve`'s arguments for this case, writing to `out`.
    fn cli_args(&self, f: &Fixture, alphas: Option<&Path>, out: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "evolve".into(),
            self.grid.clone().into(),
            f.store.dir().into(),
            "-o".into(),
            out.into(),
            "--json".into(),
            "--xir".into(),
            self.xi.0.to_string().into(),
            "--xif".into(),
            self.xi.1.to_string().into(),
            "--xia".into(),
            self.xi.2.to_string().into(),
            "--fk-basis".into(),
            if self.evol { "evol" } else { "pdg" }.into(),
        ];
        if let Some(a) = alphas {
            args.extend(["--alphas".into(), a.into()]);
        }
        if let Some((spec, _)) = &self.orders {
            args.extend(["--orders".into(), (*spec).into()]);
        }
        if let Some(nf) = self.nf {
            args.extend(["--nf-at".into(), format!("{}:{nf}", f.mb2).into()]);
        }
        if let Some(a) = self.assumptions {
            args.extend(["--fk-assumptions".into(), a.into()]);
        }
        if let Some(d) = self.degree {
            args.extend(["--interpolation".into(), format!("log:{d}").into()]);
        }
        args
    }
}

fn cases(g: &Grids) -> Vec<Case> {
    let all = (1.0, 1.0, 1.0);
    let case = |name, grid: &PathBuf, nf, evol, reinterpolated| Case {
        name,
        grid: grid.clone(),
        orders: None,
        xi: all,
        nf,
        evol,
        assumptions: None,
        reinterpolated,
        degree: None,
    };
    vec![
        case("pdg-nf5", &g.on, Some(5), false, false),
        case("evol-nf4", &g.on, Some(4), true, false),
        Case {
            name: "lo-only",
            orders: Some(("a2", vec![true, false, false])),
            ..case("lo-only", &g.on, Some(5), false, false)
        },
        Case {
            name: "xir-xif",
            xi: (2.0, 2.0, 1.0),
            ..case("xir-xif", &g.xif, None, true, false)
        },
        Case {
            name: "nf4sym",
            assumptions: Some("Nf4Sym"),
            ..case("nf4sym", &g.on, Some(5), true, false)
        },
        case("off-evol", &g.off, Some(5), true, true),
        case("off-pdg", &g.off, Some(4), false, true),
        Case {
            name: "off-log4",
            degree: Some(4),
            ..case("off-log4", &g.off, Some(5), true, true)
        },
    ]
}

// --- comparisons ---------------------------------------------------------------------------

fn max_abs(a: &ndarray::ArrayD<f64>) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The largest entry-by-entry difference of two FK tables over the second's largest entry,
/// after checking they are tables of the same bins, channels, x grid and scale.
fn fk_difference(a: &FkTable, b: &FkTable, what: &str) -> f64 {
    assert_eq!(a.channels(), b.channels(), "{what}: channels");
    assert_eq!(a.grid().bwfl().len(), b.grid().bwfl().len(), "{what}: bins");
    assert_eq!(a.grid().pid_basis(), b.grid().pid_basis(), "{what}: basis");
    let (xa, xb) = (a.x_grid(), b.x_grid());
    assert!(
        xa.len() == xb.len() && xa.iter().zip(&xb).all(|(p, q)| same_node(*p, *q)),
        "{what}: x grids {xa:?} and {xb:?}"
    );
    assert!(
        same_node(a.fac0().unwrap(), b.fac0().unwrap()),
        "{what}: fac0"
    );
    let (ta, tb) = (a.table(), b.table());
    assert_eq!(ta.shape(), tb.shape(), "{what}: table shapes");
    let scale = max_abs(&tb);
    assert!(scale > 0.0, "{what}: an empty table");
    let diff = ta
        .iter()
        .zip(tb.iter())
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    diff / scale
}

/// x f(x) of a made-up PDF at the FK table's scale; `nf4sym`: zero b and t, c = cbar, as the
/// FK table's Nf4Sym optimisation assumes.
fn toy_xfx(pid: i32, x: f64, nf4sym: bool) -> f64 {
    let pid = if nf4sym && pid == -4 { 4 } else { pid };
    if nf4sym && matches!(pid.abs(), 5 | 6) {
        return 0.0;
    }
    let k = match pid {
        21 => 0.0,
        22 => 7.0,
        p => f64::from(p),
    };
    x.powf(0.4 + 0.03 * k.abs()) * (1.0 - x).powi(3) * (1.0 + 0.1 * k) + 0.01 * x * (1.0 + k * k)
}

/// What an FK table made with `points`' operators should give with the toy PDF, computed the
/// other way round: the grid convolved with the toy PDF evolved by the store's operators to each
/// scale (and interpolated, by the store's interpolation, to x nodes between the store's).
fn grid_with_evolved_pdf(
    f: &Fixture,
    grid: &Grid,
    case: &Case,
    points: &[EvolutionPoint],
    alphas: &[(f64, f64)],
) -> Vec<f64> {
    let xgrid = &f.xgrid;
    let nf4sym = case.assumptions.is_some();
    let interpolation = match case.degree {
        Some(d) => Interpolation {
            polynomial_degree: d,
            log: true,
        },
        None => f.store.metadata().interpolation.unwrap(),
    };
    let mut xfx = |pid: i32, x: f64, q2: f64| -> f64 {
        let point = points
            .iter()
            .find(|p| same_node(p.mu2, q2))
            .unwrap_or_else(|| panic!("the grid asks for mu2 = {q2}"));
        let op = f.store.operator(point).unwrap();
        let op = op.view();
        let a = FLAVOR_BASIS
            .iter()
            .position(|p| *p == pid)
            .unwrap_or_else(|| panic!("pid {pid}"));
        let row = eko::transform::interpolation_matrix(xgrid, &[x], interpolation).unwrap();
        let mut value = 0.0;
        for (j, r) in row.row(0).iter().enumerate() {
            if *r == 0.0 {
                continue;
            }
            for (b, pid_b) in FLAVOR_BASIS.iter().enumerate() {
                for (k, xk) in xgrid.iter().enumerate() {
                    value += r * op[[a, j, b, k]] * toy_xfx(*pid_b, *xk, nf4sym) / xk;
                }
            }
        }
        x * value
    };
    let mut alphas_fn = |q2: f64| -> f64 {
        alphas
            .iter()
            .find(|(m, _)| same_node(*m, q2))
            .map(|e| e.1)
            .unwrap_or(0.118)
    };
    let mut cache =
        ConvolutionCache::new(grid.convolutions().to_vec(), vec![&mut xfx], &mut alphas_fn);
    grid.convolve(&mut cache, &case.order_mask(), &[], &[], &[case.xi])
}

fn fk_with_toy_pdf(fk: &FkTable, nf4sym: bool) -> Vec<f64> {
    let mut xfx = |pid: i32, x: f64, _q2: f64| toy_xfx(pid, x, nf4sym);
    let mut alphas = |_q2: f64| 0.118;
    let mut cache = ConvolutionCache::new(
        fk.grid().convolutions().to_vec(),
        vec![&mut xfx],
        &mut alphas,
    );
    fk.convolve(&mut cache, &[], &[])
}

fn relative(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
        / scale
}

fn eko_cli(args: &[OsString]) -> (Option<i32>, String, String) {
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    common::run_eko(&refs)
}

#[test]
fn fk_tables_match_pineappl_python_fed_by_eko() {
    let started = std::time::Instant::now();
    let f = Fixture::new();
    let g = grids(&f);
    let cases = cases(&g);
    let cases_path = f.path("cases.json");
    std::fs::write(
        &cases_path,
        Value::Array(cases.iter().map(|c| c.json(&f)).collect()).to_string(),
    )
    .unwrap();
    let references: Value = serde_json::from_str(&common::run_python(
        "check_evolve.py",
        &[Path::new("reference"), &f.dir, &cases_path],
    ))
    .unwrap();

    let mut worst = serde_json::Map::new();
    let mut note = |key: String, value: f64| {
        let old = worst.get(&key).and_then(Value::as_f64).unwrap_or(0.0);
        worst.insert(key, json!(old.max(value)));
    };
    for case in &cases {
        let name = case.name;
        let reference = &references[name];
        let grid = eko::pineappl::read_grid(&case.grid).unwrap();
        let alphas_path = PathBuf::from(reference["alphas"].as_str().unwrap());
        let alphas = read_alphas(&alphas_path).unwrap();
        let points: Vec<EvolutionPoint> = reference["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| common::point(p[0].as_f64().unwrap(), p[1].as_u64().unwrap() as u8))
            .collect();
        assert_eq!(reference["on_grid"], !case.reinterpolated, "{name}");
        let needs_alphas = case.orders.is_none();

        // The library.
        let options = EvolveOptions {
            order_mask: case.order_mask(),
            xi: case.xi,
            alphas: needs_alphas.then(|| alphas.clone()),
            fk_basis: if case.evol {
                FkBasis::Evol
            } else {
                FkBasis::Pdg
            },
            nf_at: case.nf_at(&f),
            interpolation: case.degree.map(|d| Interpolation {
                polynomial_degree: d,
                log: true,
            }),
            threads: 1,
        };
        let mut progress = Vec::new();
        let (mut fk, report) = evolve(&grid, &[&f.store], &options, &mut |done, total| {
            progress.push((done, total))
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let n = points.len();
        assert_eq!(report.slices, n, "{name}");
        assert_eq!(report.stores, 1, "{name}");
        assert_eq!(report.bytes, (n * 14 * 15 * 14 * 15 * 8) as u64, "{name}");
        assert_eq!(report.reinterpolated, case.reinterpolated, "{name}");
        assert_eq!(report.rotated, case.evol, "{name}");
        assert_eq!(
            progress,
            (0..n).map(|i| (i, n)).collect::<Vec<_>>(),
            "{name}: progress"
        );
        if let Some(a) = case.assumptions {
            fk.optimize(FkAssumptions::from_str(a).unwrap());
        }
        let lib_path = f.path(&format!("{name}.libeko.pineappl.lz4"));
        write_fk_table(&fk, &lib_path).unwrap();
        let lib = read_fk(&lib_path);
        assert_eq!(
            *lib.grid().pid_basis(),
            if case.evol {
                PidBasis::Evol
            } else {
                PidBasis::Pdg
            }
        );
        assert!(lib.channels().len() > 3, "{name}: {:?}", lib.channels());
        if case.assumptions.is_none() {
            assert_eq!(
                lib.x_grid(),
                f.xgrid,
                "{name}: the FK table's x grid is the store's"
            );
        }
        assert!(same_node(
            lib.fac0().unwrap(),
            f.store.metadata().origin.mu2
        ));
        if let Some(a) = case.assumptions {
            assert_eq!(
                lib.grid()
                    .metadata()
                    .get("fk_assumptions")
                    .map(String::as_str),
                Some(a)
            );
        }

        // The command line: the same FK table, bit for bit, and the report.
        let cli_path = f.path(&format!("{name}.cli.pineappl.lz4"));
        let (code, out, err) =
            eko_cli(&case.cli_args(&f, needs_alphas.then_some(alphas_path.as_path()), &cli_path));
        assert_eq!(code, Some(0), "{name}: eko evolve failed:\n{out}{err}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["report"]["slices"], n, "{name}");
        assert_eq!(
            answer["scales"],
            json!(points.iter().map(|p| p.mu2).collect::<Vec<_>>()),
            "{name}"
        );
        let cli = read_fk(&cli_path);
        assert_eq!(cli.channels(), lib.channels(), "{name}");
        assert_eq!(
            cli.table(),
            lib.table(),
            "{name}: the command line's FK table differs"
        );

        // (a) pineappl's Python package, eko's operators (exactly reinterpolated): 1e-12.
        let direct = read_fk(&f.path(&format!("{name}.direct.pineappl.lz4")));
        let d = fk_difference(&lib, &direct, &format!("{name} vs direct"));
        assert!(
            d <= 1e-12,
            "{name}: {d:.3e} from pineappl fed by eko directly"
        );
        note(
            format!(
                "direct/{}",
                if case.reinterpolated {
                    "exact-reinterpolation"
                } else {
                    "on-grid"
                }
            ),
            d,
        );

        // (b) As pineko makes it: eko's xgrid_reshape onto the grid's nodes, whose rows sum to
        // 1 within `row_sum_dev`; within a small multiple of that.
        let pineko = read_fk(&f.path(&format!("{name}.pineko.pineappl.lz4")));
        let d = fk_difference(&lib, &pineko, &format!("{name} vs pineko"));
        let row_sum_dev = reference["row_sum_dev"].as_f64().unwrap();
        let bound = 10.0 * row_sum_dev + 1e-12;
        assert!(
            d <= bound,
            "{name}: {d:.3e} from pineappl fed as pineko does, beyond {bound:.3e} (eko's rows sum \
             to 1 within {row_sum_dev:.3e})"
        );
        note(format!("pineko/{name}"), d);
        note("eko_row_sum_dev".into(), row_sum_dev);

        // The toy PDF: FK table at the origin = grid with the PDF evolved to each scale.
        let nf4sym = case.assumptions.is_some();
        let from_fk = fk_with_toy_pdf(&lib, nf4sym);
        let from_grid = grid_with_evolved_pdf(&f, &grid, case, &points, &alphas);
        let d = relative(&from_fk, &from_grid);
        assert!(
            d <= 1e-12,
            "{name}: the FK table with the toy PDF gives {from_fk:?}, the grid with it evolved \
             {from_grid:?} ({d:.3e})"
        );
        assert!(from_fk.iter().all(|v| v.abs() > 0.0), "{name}: {from_fk:?}");
        note("toy_pdf".into(), d);
    }
    // The interpolation asked for is the one used: degree 4 instead of the store's 3 changes the
    // FK table well beyond rounding.
    let d = fk_difference(
        &read_fk(&f.path("off-log4.libeko.pineappl.lz4")),
        &read_fk(&f.path("off-evol.libeko.pineappl.lz4")),
        "degree 4 vs 3",
    );
    assert!(d > 1e-6, "degree 4 and 3 give FK tables only {d:.3e} apart");
    eprintln!(
        "evolve: {} cases in {:.1} s; largest relative differences: {}",
        cases.len(),
        started.elapsed().as_secs_f64(),
        serde_json::to_string_pretty(&worst).unwrap()
    );
}

/// `eko evolve` on bad input: status 1, one line naming `needles`, and nothing in `out_dir`.
fn cli_refuses(args: &[OsString], out_dir: &Path, needles: &[&str]) {
    let (code, out, err) = eko_cli(args);
    assert_eq!(code, Some(1), "eko {args:?}: {out}{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    let left: Vec<_> = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "eko {args:?} left {left:?}");
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let f = Fixture::new();
    let g = grids(&f);
    let out_dir = f.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("fk.pineappl.lz4");
    let store = f.store.dir().as_os_str().to_owned();
    let base = |grid: &Path| -> Vec<OsString> {
        vec![
            "evolve".into(),
            grid.into(),
            store.clone(),
            "-o".into(),
            out.clone().into(),
        ]
    };
    let with = |mut args: Vec<OsString>, more: &[&str]| {
        args.extend(more.iter().map(OsString::from));
        args
    };
    let nf_at = format!("{}:5", f.mb2);
    let lo_only = EvolveOptions {
        order_mask: vec![true, false, false],
        nf_at: vec![common::point(f.mb2, 5)],
        ..EvolveOptions::default()
    };
    let refused = |grid: &Path, options: &EvolveOptions, needles: &[&str]| {
        let grid = eko::pineappl::read_grid(grid).unwrap();
        let text = match evolve(&grid, &[&f.store], options, &mut |_, _| {}) {
            Ok(_) => panic!("evolved, expected an error with {needles:?}"),
            Err(e) => e.to_string(),
        };
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} not in: {text}");
        }
    };

    // A grid needing scales the store lacks: every one named.
    let needles = ["no operator at mu2 = 25, 625 (2 of the 3 scales needed)"];
    refused(&g.xif, &lo_only, &needles);
    cli_refuses(&with(base(&g.xif), &["--orders", "a2"]), &out_dir, &needles);

    // The ambiguous scale without --nf-at.
    let needles = [
        format!("mu2 = {} has nf = 4 and 5", f.mb2),
        "--nf-at".to_string(),
    ];
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let options = EvolveOptions {
        nf_at: vec![],
        ..lo_only.clone()
    };
    refused(&g.on, &options, &needles);
    cli_refuses(&with(base(&g.on), &["--orders", "a2"]), &out_dir, &needles);

    // An --nf-at naming no point of the store.
    cli_refuses(
        &with(
            base(&g.on),
            &["--orders", "a2", "--nf-at", &format!("{}:3", f.mb2)],
        ),
        &out_dir,
        &[
            &format!("--nf-at {}:3", f.mb2),
            "no final operator at that point",
        ],
    );

    // x nodes below the store's x grid: interpolation does not extrapolate.
    let needles = [
        "output x grid runs from 0.0001 to 1",
        "cannot cover the grid's x = 0.00001, 0.00005 (2 of its",
    ];
    refused(&g.low, &lo_only, &needles);
    cli_refuses(
        &with(base(&g.low), &["--orders", "a2", "--nf-at", &nf_at]),
        &out_dir,
        &needles,
    );

    // A fragmentation function and only a PDF store.
    let needles = [
        "convolution 1 is a unpolarised fragmentation function and no given store evolves one",
        "unpolarised PDF",
    ];
    refused(&g.ff, &lo_only, &needles);
    cli_refuses(
        &with(base(&g.ff), &["--orders", "a2", "--nf-at", &nf_at]),
        &out_dir,
        &needles,
    );

    // alpha_s needed and not given.
    let all_orders = EvolveOptions {
        nf_at: vec![common::point(f.mb2, 5)],
        ..EvolveOptions::default()
    };
    let needles = ["need alpha_s at 4 renormalisation scales", "--alphas"];
    refused(&g.on, &all_orders, &needles);
    cli_refuses(&with(base(&g.on), &["--nf-at", &nf_at]), &out_dir, &needles);

    // alpha_s missing at one scale (and at xir^2 times the others).
    let table = f.path("alphas.txt");
    std::fs::write(
        &table,
        format!("# mu2 alpha_s\n{} 0.2\n400 0.15\n2500, 0.12\n", f.mb2),
    )
    .unwrap();
    let options = EvolveOptions {
        alphas: Some(read_alphas(&table).unwrap()),
        ..all_orders.clone()
    };
    let needles = ["no alpha_s for mur2 = 100 (1 of the 4 renormalisation scales"];
    refused(&g.on, &options, &needles);
    cli_refuses(
        &with(
            base(&g.on),
            &["--nf-at", &nf_at, "--alphas", table.to_str().unwrap()],
        ),
        &out_dir,
        &needles,
    );
    let options = EvolveOptions {
        xi: (2.0, 1.0, 1.0),
        ..options
    };
    refused(
        &g.on,
        &options,
        &[
            "no alpha_s for mur2 = 96.8256, 1600, 10000 (3 of the 4",
            "times xir^2 = 4",
        ],
    );

    // Library only: two stores of one type, an order mask of the wrong length.
    let grid = eko::pineappl::read_grid(&g.on).unwrap();
    let text = evolve(&grid, &[&f.store, &f.store], &lo_only, &mut |_, _| {})
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("evolves none of the grid's convolutions")
            && text.contains("pineappl takes one store per type"),
        "{text}"
    );
    let options = EvolveOptions {
        order_mask: vec![true],
        ..lo_only.clone()
    };
    refused(
        &g.on,
        &options,
        &["the order mask has 1 entries; the grid has 3 orders"],
    );

    // And with everything right the same command writes the FK table (--nf-at taking a list).
    let (code, o, e) = eko_cli(&with(
        base(&g.on),
        &["--orders", "a2", "--nf-at", &format!("{nf_at},100:5")],
    ));
    assert_eq!(code, Some(0), "{o}{e}");
    assert!(out.is_file());
}
