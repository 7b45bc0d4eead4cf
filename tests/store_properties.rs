//! Property tests of the store: awkward mu2 values, random insertion orders, split/merge round
//! trips by every criterion, merges of overlapping stores.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use eko::store::{
    EvolutionPoint, FileKind, MergeOptions, Store, Transfer, merge, partition_at, partition_even,
    split,
};
use ndarray::Array4;
use proptest::prelude::*;

const NX: usize = 2;

/// Positive finite mu2 values, with the awkward ones well represented.
fn mu2() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-300.0f64..300.0).prop_map(|e| 10f64.powf(e)),
        any::<f64>().prop_filter("positive finite", |v| v.is_finite() && *v > 0.0),
        prop::sample::select(vec![
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            1e-4,
            9.999999999999999e-5,
            1e16,
            9999999999999998.0,
            0.1 + 0.2,
            1.65 * 1.65,
            1.0
        ]),
        (1.0f64..1e5),
    ]
}

fn points() -> impl Strategy<Value = Vec<EvolutionPoint>> {
    prop::collection::btree_set(
        (mu2(), 0u8..=6).prop_map(|(m, n)| EvolutionPoint::new(m, n).unwrap()),
        1..12,
    )
    .prop_map(|s| s.into_iter().collect())
}

fn op(p: &EvolutionPoint) -> Array4<f64> {
    Array4::from_shape_fn((14, NX, 14, NX), |(a, i, b, j)| {
        p.mu2.ln() + p.nf as f64 + (a * 8 + i * 4 + b * 2 + j) as f64
    })
}

fn insert_all(dir: &Path, points: &[EvolutionPoint]) -> Store {
    let mut store = Store::create(dir, &common::metadata(NX)).unwrap();
    for (i, p) in points.iter().enumerate() {
        let error = op(p).mapv(f64::abs);
        store
            .insert_operator(*p, &op(p), (i % 3 == 0).then_some(&error))
            .unwrap();
        if i % 2 == 0 {
            store
                .insert_partial(*p, &op(p).mapv(|v| -v), None::<&Array4<f64>>)
                .unwrap();
        }
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn names_round_trip(m in mu2(), nf in 0u8..=6) {
        let p = EvolutionPoint::new(m, nf).unwrap();
        for kind in FileKind::ALL {
            let name = kind.file_name(&p);
            prop_assert!(name.len() < 64, "{}", name);
            let (q, k) = FileKind::parse_file_name(&name).unwrap();
            prop_assert_eq!(q.mu2.to_bits(), m.to_bits());
            prop_assert_eq!((q.nf, k), (nf, kind));
        }
    }

    #[test]
    fn any_insertion_order_reads_back_sorted(points in points(), seed in any::<u64>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut shuffled = points.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        insert_all(dir.path(), &shuffled);
        let store = Store::open(dir.path()).unwrap();
        prop_assert_eq!(store.points_with(FileKind::Operator).collect::<Vec<_>>(), points.clone());
        for (p, file) in store.operators().map(Result::unwrap) {
            prop_assert_eq!(file.view(), op(&p));
        }
    }

    #[test]
    fn split_then_merge_is_byte_exact(points in points(), n in 1usize..5, cut in mu2(), criterion in 0u8..3) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        insert_all(&src, &points);
        let original = common::snapshot(&src);
        let groups = match criterion {
            0 => partition_even(&points, n),
            1 => partition_at(&points, &[cut]),
            // Explicit sets: every other point, then the rest.
            _ => vec![points.iter().step_by(2).copied().collect(), points.iter().skip(1).step_by(2).copied().collect()],
        };
        let covered: BTreeSet<_> = groups.iter().flatten().copied().collect();
        prop_assert_eq!(covered.len(), points.len());
        let parts: Vec<_> = groups.into_iter().enumerate().map(|(i, g)| (dir.path().join(format!("p{i}")), g)).collect();
        let transfer = if n % 2 == 0 { Transfer::Link } else { Transfer::Copy };
        split(&src, &parts, transfer).unwrap();
        let dirs: Vec<&Path> = parts.iter().map(|(d, _)| d.as_path()).collect();
        let back = dir.path().join("back");
        merge(&back, &dirs, MergeOptions::default()).unwrap();
        prop_assert_eq!(common::snapshot(&back), original.clone());
        prop_assert_eq!(common::snapshot(&src), original);
    }

    #[test]
    fn merging_overlapping_stores_gives_the_union(a in points(), b in points()) {
        let dir = tempfile::tempdir().unwrap();
        insert_all(&dir.path().join("a"), &a);
        insert_all(&dir.path().join("b"), &b);
        let dest = dir.path().join("dest");
        merge(&dest, &[&dir.path().join("a"), &dir.path().join("b")], MergeOptions::default()).unwrap();
        let union: BTreeSet<_> = a.iter().chain(&b).copied().collect();
        let store = Store::open(&dest).unwrap();
        prop_assert_eq!(store.points_with(FileKind::Operator).collect::<BTreeSet<_>>(), union);
        store.verify().unwrap();
    }
}
