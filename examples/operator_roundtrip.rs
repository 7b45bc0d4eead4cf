//! Writes one EKO-shaped operator (14 flavours x 50 x-points, squared) as a `.npy`, maps it
//! back with no copy, checks every value, and reports sizes and timings.
//!
//! Run: `cargo run --release --example operator_roundtrip [DIR]` (default: a temporary directory).

use std::time::Instant;

use eko::npy::{NpyFile, NpyFileMut, Order, WriteOptions, write_npy};
use ndarray::{Array4, Ix4};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp;
    let dir = match std::env::args_os().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let (n_pid, n_x) = (14, 50);

    // A deterministic operator with the structure of a real one: a zero photon row and column,
    // and an x-space part that is upper triangular (x_in >= x_out dominates).
    let started = Instant::now();
    let op = Array4::from_shape_fn((n_pid, n_x, n_pid, n_x), |(a, i, b, j)| {
        if a == 0 || b == 0 || j < i {
            0.0
        } else {
            let flavour = if a == b {
                1.0
            } else {
                0.01 / (1.0 + a.abs_diff(b) as f64)
            };
            flavour * (-((j - i) as f64) / 7.0).exp()
        }
    });
    let path = dir.join("100.npy");
    write_npy(&path, &op, WriteOptions::default())?;
    let written = started.elapsed();

    let started = Instant::now();
    let file = NpyFile::open(&path)?;
    let opened = started.elapsed();
    let view = file.view_as::<f64, Ix4>()?;
    let started = Instant::now();
    assert_eq!(view, op, "mapped values differ from the written ones");
    let compared = started.elapsed();

    // A producer fills a second operator in place through a writable map, then commits it.
    let filled_path = dir.join("200.npy");
    let mut filled = NpyFileMut::<f64>::create(&filled_path, &[n_pid, n_x, n_pid, n_x], Order::C)?;
    filled.view_mut().assign(&(&op * 2.0));
    filled.commit()?;
    let doubled = NpyFile::open(&filled_path)?;
    assert_eq!(doubled.view_as::<f64, Ix4>()?, &op * 2.0);

    let h = file.header();
    println!("libeko operator round trip in {}", dir.display());
    println!(
        "  wrote     {} ({} bytes of f64, data at offset {}) in {:.1} ms",
        path.display(),
        h.data_len(),
        h.data_offset,
        written.as_secs_f64() * 1e3
    );
    println!(
        "  opened    header {:?} {:?} order, zero copy: {} in {:.1} us",
        h.shape,
        h.order,
        file.in_place().describe(),
        opened.as_secs_f64() * 1e6
    );
    println!(
        "  compared  {} values through the mapped view in {:.1} ms: all equal",
        view.len(),
        compared.as_secs_f64() * 1e3
    );
    println!(
        "  filled    {} in place through a writable map and committed: all equal",
        filled_path.display()
    );
    Ok(())
}
