use super::*;
use crate::store::{EvolutionPoint, MatchingScales};
use ndarray::ShapeBuilder;

fn geomspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn metadata(n_x: usize) -> Metadata {
    Metadata::new(
        EvolutionPoint::new(2.0, 4).unwrap(),
        geomspace(1e-5, 1.0, n_x),
        FLAVOR_BASIS.to_vec(),
        MatchingScales::default(),
    )
}

fn operator(shape: [usize; 4], seed: u64) -> Array4<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    Array4::from_shape_simple_fn(shape, || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    })
}

/// The definition, with dense matrices: Σ P[c,a] R[i,j] O[a,j,b,k] S[k,l] Q[b,d].
fn reference(t: &Transform, op: &Array4<f64>) -> Array4<f64> {
    let [p, x, pin, xin] = t.source_shape();
    let [p2, x2, pin2, xin2] = t.shape();
    let dense_x = |b: &Option<Banded>, n_new: usize, n_old: usize, transpose: bool| match b {
        None => rotation::identity(n_old).values,
        Some(m) => {
            let d = m.to_dense();
            if transpose {
                // Sᵀ is stored: S[k, l] = Sᵀ[l, k].
                let mut s = vec![0.0; n_old * n_new];
                for l in 0..n_new {
                    for k in 0..n_old {
                        s[k * n_new + l] = d[l * n_old + k];
                    }
                }
                s
            } else {
                d
            }
        }
    };
    let r = dense_x(&t.output.x, x2, x, false); // [i, j]
    let sm = dense_x(&t.input.x, xin2, xin, true); // [k, l]
    let pm = t.output.pids.clone().unwrap_or_else(|| rotation::identity(p)).values;
    let qm = t.input.pids.clone().unwrap_or_else(|| rotation::identity(pin)).values;
    // One index at a time, each step a plain sum over the definition's index.
    let t1 = Array4::from_shape_fn((p2, x, pin, xin), |(c, j, b, k)| {
        (0..p).map(|a| pm[c * p + a] * op[[a, j, b, k]]).sum::<f64>()
    });
    let t2 = Array4::from_shape_fn((p2, x2, pin, xin), |(c, i, b, k)| {
        (0..x).map(|j| r[i * x + j] * t1[[c, j, b, k]]).sum::<f64>()
    });
    let t3 = Array4::from_shape_fn((p2, x2, pin, xin2), |(c, i, b, l)| {
        (0..xin).map(|k| t2[[c, i, b, k]] * sm[k * xin2 + l]).sum::<f64>()
    });
    Array4::from_shape_fn((p2, x2, pin2, xin2), |(c, i, d, l)| {
        (0..pin).map(|b| t3[[c, i, b, l]] * qm[b * pin2 + d]).sum::<f64>()
    })
}

fn max_diff(a: &Array4<f64>, b: &Array4<f64>) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn spec(out_x: Option<Vec<f64>>, in_x: Option<Vec<f64>>, out_b: Option<Basis>, in_b: Option<Basis>) -> TransformSpec {
    TransformSpec {
        output: SideChange {
            xgrid: out_x,
            rotation: out_b.map(Rotation::To),
        },
        input: SideChange {
            xgrid: in_x,
            rotation: in_b.map(Rotation::To),
        },
        interpolation: None,
    }
}

#[test]
fn every_combination_matches_the_dense_definition() {
    let m = metadata(9);
    let op = operator(m.operator_shape(), 3);
    let grids = [
        None,
        Some(geomspace(1e-5, 1.0, 13)),  // finer
        Some(geomspace(1e-5, 1.0, 6)),   // coarser
        Some(geomspace(1e-6, 0.8, 9)),   // partly outside
        Some(m.xgrid.clone()),           // equal
    ];
    for out_x in &grids {
        for in_x in &grids {
            for (out_b, in_b) in [(None, None), (Some(Basis::Evol), None), (None, Some(Basis::Evol)), (Some(Basis::Evol), Some(Basis::Evol))] {
                let s = spec(out_x.clone(), in_x.clone(), out_b, in_b);
                let t = Transform::new(&m, &s).unwrap();
                let want = reference(&t, &op);
                for threads in [1, 3] {
                    let got = t.clone().with_threads(threads).apply_owned(op.view()).unwrap();
                    let d = max_diff(&got, &want);
                    assert!(d < 1e-13, "{s:?}: {d}");
                }
            }
        }
    }
}

#[test]
fn same_grid_is_the_identity_and_rotations_round_trip() {
    let m = metadata(10);
    let op = operator(m.operator_shape(), 5);
    let t = Transform::new(&m, &spec(Some(m.xgrid.clone()), Some(m.xgrid.clone()), None, None)).unwrap();
    assert!(t.is_identity());
    assert_eq!(t.apply_owned(op.view()).unwrap(), op);
    let there = Transform::new(&m, &spec(None, None, Some(Basis::Evol), Some(Basis::Evol))).unwrap();
    let evolved = there.apply_owned(op.view()).unwrap();
    let rotated = there.metadata(&m, serde_json::Value::Null);
    assert_eq!(rotated.output_pids(), EVOLUTION_BASIS);
    assert_eq!(rotated.input_pids(), EVOLUTION_BASIS);
    let back = Transform::new(&rotated, &spec(None, None, Some(Basis::Flavor), Some(Basis::Flavor))).unwrap();
    let again = back.apply_owned(evolved.view()).unwrap();
    assert!(max_diff(&again, &op) < 1e-13, "{}", max_diff(&again, &op));
    // Rotating to the basis a side is in does nothing.
    assert!(Transform::new(&m, &spec(None, None, Some(Basis::Flavor), None)).unwrap().is_identity());
}

#[test]
fn layouts_of_source_and_destination_do_not_matter() {
    let m = metadata(9);
    let op = operator(m.operator_shape(), 8);
    let t = Transform::new(&m, &spec(Some(geomspace(1e-4, 1.0, 6)), Some(geomspace(1e-5, 0.9, 11)), Some(Basis::Evol), None)).unwrap();
    let want = t.apply_owned(op.view()).unwrap();
    let mut fortran_op = Array4::zeros(op.raw_dim().f());
    fortran_op.assign(&op);
    let mut fortran_out = Array4::zeros(ndarray::Dim(t.shape()).f());
    t.apply(fortran_op.view(), fortran_out.view_mut()).unwrap();
    assert_eq!(fortran_out, want);
}

#[test]
fn the_recorded_interpolation_is_the_input_sides() {
    let m = metadata(9);
    let linear = Interpolation {
        polynomial_degree: 2,
        log: false,
    };
    let with = |out_x: Option<Vec<f64>>, in_x: Option<Vec<f64>>, b: Option<Basis>| {
        let mut s = spec(out_x, in_x, None, b);
        s.interpolation = Some(linear);
        Transform::new(&m, &s)
            .unwrap()
            .metadata(&m, serde_json::Value::Null)
            .interpolation
    };
    // Rotation only, or the output side only: the operators keep the store's interpolation.
    assert_eq!(with(None, None, Some(Basis::Evol)), m.interpolation);
    assert_eq!(with(Some(geomspace(1e-4, 1.0, 5)), None, None), m.interpolation);
    // A new input grid: its interpolation is the one it was made with.
    assert_eq!(with(None, Some(geomspace(1e-4, 1.0, 5)), None), Some(linear));
    // A transform for one store refuses another store of the same shape.
    let t = Transform::new(&m, &spec(None, None, None, Some(Basis::Evol))).unwrap();
    let rotated = t.metadata(&m, serde_json::Value::Null);
    let e = t
        .check_source(&rotated, std::path::Path::new("s"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("made for operators with other sides"), "{e}");
    t.check_source(&m, std::path::Path::new("s")).unwrap();
}

#[test]
fn bad_input_is_named() {
    let m = metadata(8);
    let err = |s: TransformSpec| Transform::new(&m, &s).unwrap_err().to_string();
    let e = err(spec(Some(vec![0.1, 1.5]), None, None, None));
    assert!(e.contains("the new output x grid value 1.5 is outside (0, 1]"), "{e}");
    let e = err(spec(None, Some(vec![0.1, 0.1, 0.2]), None, None));
    assert!(e.contains("the new input x grid is not strictly increasing (0.1 then 0.1)"), "{e}");
    let e = err(spec(None, Some(vec![0.1, 0.2, 0.3]), None, None));
    assert!(e.contains("degree 4 needs at least 5 x values; the new input x grid has 3"), "{e}");
    let e = err(spec(None, Some(vec![]), None, None));
    assert!(e.contains("the new input x grid is empty"), "{e}");
    let mut s = spec(None, None, None, None);
    s.input.rotation = Some(Rotation::Matrix { matrix: vec![0.0; 196], pids: FLAVOR_BASIS.to_vec() });
    assert!(err(s).contains("input rotation is singular"));
    let mut old = m.clone();
    old.interpolation = None;
    let e = Transform::new(&old, &spec(Some(vec![0.5, 1.0]), None, None, None)).unwrap_err().to_string();
    assert!(e.contains("none is known: a store records it in metadata.json (field `interpolation`"), "{e}");
    let mut custom = m.clone();
    custom.pids = vec![21, 1];
    let e = Transform::new(&custom, &spec(None, None, None, Some(Basis::Evol))).unwrap_err().to_string();
    assert!(e.contains("neither eko's flavour basis"), "{e}");
    // Two x values a few ulps apart coincide in ln x: no polynomial through them.
    let x0 = 1e-5f64;
    let mut close = vec![x0, f64::from_bits(x0.to_bits() + 1)];
    close.extend(geomspace(2e-5, 0.9, 8));
    let e = err(spec(None, Some(close), None, None));
    assert!(e.contains("coincide in ln x"), "{e}");
    let t = Transform::new(&m, &spec(None, None, Some(Basis::Evol), None)).unwrap();
    let e = t.apply_owned(Array4::zeros((14, 7, 14, 8)).view()).unwrap_err().to_string();
    assert!(e.contains("the operator has shape [14, 7, 14, 8]"), "{e}");
}
