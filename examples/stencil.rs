//! Stencils with halos: a 3×3 mean filter and a 5-point Laplacian of a 2-D field, each
//! block extended by one row and column of its neighbours (`map_overlap`).
//!
//! The halo comes from strips of the neighbouring blocks, gathered inside the task
//! that filters the block: one task per block, no copies of whole neighbours.
//!
//! ```sh
//! cargo run --release --example stencil            # an 8000 × 8000 field in 2000² blocks
//! cargo run --release --example stencil -- 20000   # a larger one
//! ```

use chunkwise::{Array, Boundary, DType};
use ndarray::{Array2, ArrayD, ArrayViewD, Ix2, s};

/// Mean of each interior element's 3×3 neighbourhood (the border is the halo, trimmed).
fn mean3x3(v: ArrayViewD<'_, f32>) -> ArrayD<f32> {
    let v = v.into_dimensionality::<Ix2>().expect("2-D blocks");
    let (n, m) = v.dim();
    let mut out = Array2::<f32>::zeros((n, m));
    let mut acc = Array2::<f32>::zeros((n - 2, m - 2));
    for di in 0..3 {
        for dj in 0..3 {
            acc += &v.slice(s![di..n - 2 + di, dj..m - 2 + dj]);
        }
    }
    out.slice_mut(s![1..n - 1, 1..m - 1]).assign(&(acc / 9.0));
    out.into_dyn()
}

/// The 5-point Laplacian `x[i-1,j] + x[i+1,j] + x[i,j-1] + x[i,j+1] - 4 x[i,j]`.
fn laplacian(v: ArrayViewD<'_, f32>) -> ArrayD<f32> {
    let v = v.into_dimensionality::<Ix2>().expect("2-D blocks");
    let (n, m) = v.dim();
    let mut out = Array2::<f32>::zeros((n, m));
    let l = &v.slice(s![0..n - 2, 1..m - 1])
        + &v.slice(s![2..n, 1..m - 1])
        + v.slice(s![1..n - 1, 0..m - 2])
        + v.slice(s![1..n - 1, 2..m])
        - &(v.slice(s![1..n - 1, 1..m - 1]).to_owned() * 4.0);
    out.slice_mut(s![1..n - 1, 1..m - 1]).assign(&l);
    out.into_dyn()
}

fn main() -> chunkwise::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(8000);
    let x = Array::random_normal(&[n, n], 0.0, 1.0, 3, [2000, 2000])?
        .astype(DType::F32)
        .persist()?;
    let t = std::time::Instant::now();
    let smooth = x.map_overlap(&[1, 1], Boundary::Reflect, mean3x3)?;
    // Smoothing divides the variance of white noise by 9; the Laplacian of the
    // periodic field sums to zero.
    let var = smooth.var(None, 0.0)?.compute_scalar::<f32>()?;
    let lap = x.map_overlap(&[1, 1], Boundary::Periodic, laplacian)?;
    let total = lap.astype(DType::F64).sum(None)?.compute_scalar::<f64>()?;
    println!(
        "{n}×{n}: variance after the 3×3 mean {var:.4} (1/9 = {:.4}); sum of the periodic Laplacian {total:.3e}; {:.2} s",
        1.0 / 9.0,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
