//! Which matrix product should combine use? Printed, not a timed test.
//! Run: `cargo bench --bench matmul --features matmul-bench`.
//!
//! N x N f64 products at N = 1400 (one 14 x 100 operator flattened) and N = 700 (14 x 50), with 1
//! and 2 threads: ndarray's `dot` as shipped, `gemm` 0.19 with `x86-v4`, `faer` 0.24, against
//! NumPy/OpenBLAS `np.matmul` in the same run (one Python process per thread count), interleaved
//! round by round, medians.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use ndarray::Array2;

fn random(n: usize, seed: u64) -> Array2<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Array2::from_shape_simple_fn((n, n), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}

fn gemm_product(a: &Array2<f64>, b: &Array2<f64>, c: &mut Array2<f64>, threads: usize) {
    let n = a.nrows();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    assert!(a.is_standard_layout() && b.is_standard_layout() && c.is_standard_layout());
    // SAFETY: all three are n x n, row-major (column stride 1, row stride n), own their memory and
    // do not overlap (c is borrowed mutably, a and b immutably).
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn faer_product(a: &Array2<f64>, b: &Array2<f64>, c: &mut Array2<f64>, threads: usize) {
    let n = a.nrows();
    let par = if threads > 1 {
        faer::Par::rayon(threads)
    } else {
        faer::Par::Seq
    };
    let lhs = faer::MatRef::from_row_major_slice(a.as_slice().unwrap(), n, n);
    let rhs = faer::MatRef::from_row_major_slice(b.as_slice().unwrap(), n, n);
    let dst = faer::MatMut::from_row_major_slice_mut(c.as_slice_mut().unwrap(), n, n);
    faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, 1.0, par);
}

fn main() {
    rayon_threads();
    for n in [1400, 700] {
        let (a, b) = (random(n, 1), random(n, 2));
        let reference = a.dot(&b);
        let mut c = Array2::<f64>::zeros((n, n));
        let flops = 2.0 * (n as f64).powi(3);
        let reps = if n >= 1400 { 3 } else { 12 };
        let rounds = 7;
        println!("N = {n} (f64), {rounds} rounds x {reps} products, interleaved, medians:");
        for threads in [1, 2] {
            let threads_env = threads.to_string();
            let mut numpy = common::PythonServer::start(
                "matmul.py",
                &[n.to_string().as_ref()],
                &[("OPENBLAS_NUM_THREADS", &threads_env)],
            );
            numpy.ask("run 2"); // warm up
            type Kernel = fn(&Array2<f64>, &Array2<f64>, &mut Array2<f64>, usize);
            let mut kernels: Vec<(&str, Kernel)> = vec![
                ("gemm 0.19 x86-v4", gemm_product),
                ("faer 0.24", faer_product),
            ];
            if threads == 1 {
                kernels.push(("ndarray dot", |a, b, c, _| c.assign(&a.dot(b))));
            }
            let mut times = vec![Vec::new(); kernels.len() + 1];
            for _ in 0..rounds {
                for (k, (_, kernel)) in kernels.iter().enumerate() {
                    kernel(&a, &b, &mut c, threads); // warm, and check
                    let err = (&c - &reference).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    assert!(err < 1e-9, "{}: max deviation {err}", kernels[k].0);
                    let t = Instant::now();
                    for _ in 0..reps {
                        kernel(&a, &b, &mut c, threads);
                    }
                    times[k].push(t.elapsed().as_secs_f64() / reps as f64);
                }
                times[kernels.len()].push(numpy.ask(&format!("run {reps}"))[0]);
            }
            let numpy_time = common::median(&mut times[kernels.len()]);
            println!(
                "  {threads} thread(s): NumPy/OpenBLAS {:7.2} ms ({:5.1} GF/s)",
                numpy_time * 1e3,
                flops / numpy_time / 1e9
            );
            for (k, (name, _)) in kernels.iter().enumerate() {
                let t = common::median(&mut times[k]);
                println!(
                    "    {name:<18} {:7.2} ms ({:5.1} GF/s)  speed vs NumPy {:.2}x",
                    t * 1e3,
                    flops / t / 1e9,
                    numpy_time / t
                );
            }
        }
    }
}

/// Two rayon workers: the machine has two cores.
fn rayon_threads() {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
}
