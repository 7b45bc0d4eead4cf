//! Format-layer benchmarks, printed (not timed tests). Run: `cargo bench --bench npy`.
//!
//! 1. open + map + header parse + view + unmap per `.npy` file, against NumPy's
//!    `np.load(path, mmap_mode='r')` on the same files, interleaved round by round.
//! 2. sequential read of a page-cached f64 file through a fresh map, against `read()`, both
//!    summing every value: one `read()` into a reused full-size buffer, and `read()` in 1 MiB
//!    chunks into a reused buffer, 64-byte aligned and 16 bytes off (malloc's alignment).
//! 3. refusal time of a header with 1000 nested brackets.
//!
//! Every figure is the median over rounds; ratios compare medians of the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use eko::npy::{NpyFile, WriteOptions, parse_header, write_npy};
use ndarray::Array4;

/// A sub-slice of `backing` of `len` values starting `offset` bytes past a 64-byte boundary.
fn aligned(backing: &mut [f64], len: usize, offset: usize) -> &mut [f64] {
    let start = backing.as_ptr().align_offset(64) + offset / 8;
    &mut backing[start..start + len]
}

fn open_cost(dir: &Path, rounds: usize) {
    let (n_files, per_round) = (64, 512);
    let op = Array4::from_shape_fn((14, 50, 14, 50), |(a, i, b, j)| (a + i + b + j) as f64);
    let paths: Vec<_> = (0..n_files)
        .map(|k| {
            let p = dir.join(format!("{k}.npy"));
            write_npy(&p, &op, WriteOptions::default()).unwrap();
            p
        })
        .collect();
    let path_args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let mut numpy = common::PythonServer::start("npy_open.py", &path_args, &[]);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let t = Instant::now();
        for i in 0..per_round {
            let file = NpyFile::open(&paths[i % n_files]).unwrap();
            std::hint::black_box(file.view::<f64>().unwrap().len());
        }
        let rust = t.elapsed().as_secs_f64() / per_round as f64;
        let py = numpy.ask(&format!("open {per_round}"))[0] / per_round as f64;
        if round > 0 {
            // round 0 warms both up
            ours.push(rust * 1e6);
            theirs.push(py * 1e6);
        }
    }
    let numpy_peak = numpy.ask("memory")[0] / 1024.0;
    drop(numpy);
    let (ours, theirs) = (common::median(&mut ours), common::median(&mut theirs));
    println!(
        "open + map + parse + view + unmap, per file (14x50x14x50 f64, {rounds} rounds x {per_round} opens, interleaved, medians):"
    );
    println!("  libeko NpyFile::open   {ours:8.1} us");
    println!("  NumPy np.load(mmap)    {theirs:8.1} us");
    println!("  ratio NumPy / libeko   {:8.2}x", theirs / ours);
    println!(
        "  peak RSS: libeko process {:.1} MiB, NumPy process {numpy_peak:.1} MiB",
        common::proc_status_kb("VmHWM") / 1024.0
    );
}

fn sequential_read(dir: &Path, rounds: usize) {
    let n = 64 << 20; // 512 MiB of f64
    let path = dir.join("big.npy");
    write_npy(
        &path,
        &ndarray::Array1::from_shape_fn(n, |i| (i % 1000) as f64),
        WriteOptions::default(),
    )
    .unwrap();
    let file = NpyFile::open(&path).unwrap();
    let expected = common::sum8(file.view::<f64>().unwrap().as_slice().unwrap());
    let mut header = vec![0u8; file.header().data_offset];
    drop(file);
    let chunk_len = 1 << 17; // 1 MiB
    let mut whole = vec![0.0f64; n + 8];
    let mut chunk = vec![0.0f64; chunk_len + 16];
    let gbps = |seconds: f64| (n * 8) as f64 / seconds / 1e9;
    let mut chunked = |header: &mut [u8], misalign: usize| {
        let t = Instant::now();
        let buffer = aligned(&mut chunk, chunk_len, misalign);
        let mut f = std::fs::File::open(&path).unwrap();
        f.read_exact(header).unwrap();
        let mut s = 0.0;
        for _ in 0..n / chunk_len {
            f.read_exact(bytemuck::cast_slice_mut(buffer)).unwrap();
            s += common::sum8(buffer);
        }
        assert!((s - expected).abs() <= 1e-9 * expected);
        gbps(t.elapsed().as_secs_f64())
    };
    let mut results = [(); 4].map(|_| Vec::new());
    for round in 0..=rounds {
        let t = Instant::now();
        let file = NpyFile::open(&path).unwrap();
        assert_eq!(
            common::sum8(file.view::<f64>().unwrap().as_slice().unwrap()),
            expected
        );
        drop(file);
        let mapped = gbps(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let buffer = aligned(&mut whole, n, 0);
        let mut f = std::fs::File::open(&path).unwrap();
        f.read_exact(&mut header).unwrap();
        f.read_exact(bytemuck::cast_slice_mut(buffer)).unwrap();
        assert_eq!(common::sum8(buffer), expected);
        let one_read = gbps(t.elapsed().as_secs_f64());

        let chunked64 = chunked(&mut header, 0);
        let chunked16 = chunked(&mut header, 16);
        if round > 0 {
            for (list, value) in results
                .iter_mut()
                .zip([mapped, one_read, chunked64, chunked16])
            {
                list.push(value);
            }
        }
    }
    let [mapped, one_read, chunked64, chunked16] = results.map(|mut v| common::median(&mut v));
    println!(
        "sequential read + sum of a page-cached 512 MiB f64 .npy ({rounds} rounds, interleaved, medians):"
    );
    println!("  fresh map (NpyFile::open + view)          {mapped:6.1} GB/s");
    println!(
        "  one read() into a reused 512 MiB buffer   {one_read:6.1} GB/s   map / read = {:.2}x",
        mapped / one_read
    );
    println!(
        "  read() by 1 MiB into a 64-aligned buffer  {chunked64:6.1} GB/s   map / read = {:.2}x",
        mapped / chunked64
    );
    println!(
        "  read() by 1 MiB, buffer 16 bytes off 64   {chunked16:6.1} GB/s   map / read = {:.2}x",
        mapped / chunked16
    );
    let (hwm, anon) = (
        common::proc_status_kb("VmHWM") / 1024.0,
        common::proc_status_kb("RssAnon") / 1024.0,
    );
    println!(
        "  peak RSS {hwm:.0} MiB (the 512 MiB read() buffer plus mapped page-cache pages); anonymous now {anon:.0} MiB"
    );
}

fn hostile_header() {
    let text = format!(
        "{{'descr': {}{}, 'fortran_order': False, 'shape': ()}}\n",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    let location = eko::Location::Buffer("bench".into());
    let mut times = Vec::new();
    for _ in 0..1001 {
        let t = Instant::now();
        assert!(parse_header(std::hint::black_box(&bytes), &location).is_err());
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "refusing a {}-byte header with 1000 nested brackets: median {:.2} us",
        bytes.len(),
        common::median(&mut times)
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    open_cost(dir.path(), 21);
    sequential_read(dir.path(), 10);
    hostile_header();
}
