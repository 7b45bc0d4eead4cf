//! pineappl grids for the tests and benchmarks (feature `pineappl`).

use eko::pineappl::{ConvType, Grid};
use pineappl::boc::{BinsWithFillLimits, Channel, Kinematics, Order, ScaleFuncForm, Scales};
use pineappl::convolutions::Conv;
use pineappl::interpolation::{Interp, InterpMeth, Map, ReweightMeth};
use pineappl::packed_array::PackedArray;
use pineappl::pids::PidBasis;
use pineappl::subgrid::ImportSubgridV1;

/// The grids' orders: LO (alpha^2), NLO (alpha_s alpha^2), and its factorisation-scale log.
pub fn orders() -> Vec<Order> {
    vec![
        Order::new(0, 2, 0, 0, 0),
        Order::new(1, 2, 0, 0, 0),
        Order::new(1, 2, 0, 1, 0),
    ]
}

/// A DIS-like grid: one convolution of type `conv`, one bin per entry of `scales` and `xs`
/// (each bin's subgrids on those scales and x nodes), three channels (up-type, down-type quarks
/// and antiquarks, the gluon). Subgrid values are made up but not zero; one subgrid is empty.
pub fn dis_grid(conv: ConvType, scales: &[Vec<f64>], xs: &[Vec<f64>]) -> Grid {
    assert_eq!(scales.len(), xs.len());
    let n_bins = scales.len();
    let bins =
        BinsWithFillLimits::from_fill_limits((0..=n_bins).map(|b| b as f64).collect()).unwrap();
    let up = 4.0 / 9.0;
    let down = 1.0 / 9.0;
    let channels = vec![
        Channel::new(vec![
            (vec![2], up),
            (vec![-2], up),
            (vec![4], up),
            (vec![-4], up),
        ]),
        Channel::new(vec![
            (vec![1], down),
            (vec![-1], down),
            (vec![3], down),
            (vec![-3], down),
            (vec![5], down),
            (vec![-5], down),
        ]),
        Channel::new(vec![(vec![21], 1.0)]),
    ];
    let pdf = conv.is_pdf();
    let hadron = if pdf { 2212 } else { 211 };
    let interps = vec![
        Interp::new(
            1e2,
            1e8,
            40,
            3,
            ReweightMeth::NoReweight,
            Map::ApplGridH0,
            InterpMeth::Lagrange,
        ),
        Interp::new(
            2e-7,
            1.0,
            50,
            3,
            ReweightMeth::ApplGridX,
            Map::ApplGridF2,
            InterpMeth::Lagrange,
        ),
    ];
    let process = if pdf {
        (ScaleFuncForm::Scale(0), ScaleFuncForm::NoScale)
    } else {
        (ScaleFuncForm::NoScale, ScaleFuncForm::Scale(0))
    };
    let mut grid = Grid::new(
        bins,
        orders(),
        channels,
        PidBasis::Pdg,
        vec![Conv::new(conv, hadron)],
        interps,
        vec![Kinematics::Scale(0), Kinematics::X(0)],
        Scales {
            ren: ScaleFuncForm::Scale(0),
            fac: process.0,
            frg: process.1,
        },
    );
    let n_orders = grid.orders().len();
    let n_channels = grid.channels().len();
    let mut subgrids = grid.subgrids_mut();
    for o in 0..n_orders {
        for (b, (s, x)) in scales.iter().zip(xs).enumerate() {
            for c in 0..n_channels {
                if (o, b, c) == (2, n_bins - 1, 2) {
                    continue; // stays empty
                }
                let mut array = PackedArray::new(vec![s.len(), x.len()]);
                for i in 0..s.len() {
                    for j in 0..x.len() {
                        let phase = (o * 7 + b * 5 + c * 3 + i * 11 + j * 13) as f64;
                        array[[i, j]] =
                            (1.0 + 0.5 * phase.sin()) / (1.0 + j as f64) * [1.0, 0.3, -0.2][o];
                    }
                }
                subgrids[[o, b, c]] =
                    ImportSubgridV1::new(array, vec![s.clone(), x.clone()]).into();
            }
        }
    }
    grid
}
