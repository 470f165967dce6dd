//! A task graph built by hand, for work that fits no array operation (the role of
//! `dask.delayed`): here, a histogram of every block of a large array, computed where
//! the block is, merged tree-free in one gather, and the blocks' extremes in the same
//! run — the array is generated once for both.
//!
//! ```sh
//! cargo run --release --example custom_graph
//! ```

use chunkwise::{Array, Runtime, gather};

const BINS: usize = 20;

fn main() -> chunkwise::Result<()> {
    // 50 million normal deviates in 25 blocks, generated lazily.
    let x = Array::random_normal(&[10_000, 5_000], 0.0, 1.0, 3, [2_000, 1_000])?;
    // One task per block: a histogram over [-5, 5) and the block's min and max.
    let parts = (0..x.num_blocks())
        .map(|b| {
            x.block_then(b, "histogram", |c| {
                let d = c.data();
                let mut h = vec![0u64; BINS];
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for i in 0..d.len() {
                    let v = d.get_f64(i);
                    lo = lo.min(v);
                    hi = hi.max(v);
                    let k = ((v + 5.0) / 10.0 * BINS as f64).floor();
                    if (0.0..BINS as f64).contains(&k) {
                        h[k as usize] += 1;
                    }
                }
                Ok((h, lo, hi))
            })
        })
        .collect::<chunkwise::Result<Vec<_>>>()?;
    let merged = gather(&parts, "merge", |ps| {
        let mut h = vec![0u64; BINS];
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (ph, plo, phi) in ps {
            h.iter_mut().zip(ph).for_each(|(a, b)| *a += b);
            lo = lo.min(*plo);
            hi = hi.max(*phi);
        }
        Ok((h, lo, hi))
    });
    let (h, lo, hi) = Runtime::global().compute_delayed(&merged)?;
    let total: u64 = h.iter().sum();
    println!("{} values, min {lo:.3}, max {hi:.3}", x.size());
    for (k, n) in h.iter().enumerate() {
        let left = -5.0 + 10.0 * k as f64 / BINS as f64;
        let bar = "#".repeat((*n as f64 / total as f64 * 200.0) as usize);
        println!("[{left:>5.1}, {:>5.1}) {n:>10} {bar}", left + 0.5);
    }
    Ok(())
}
