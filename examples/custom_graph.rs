//! A task graph built by hand for work that fits no array operation (the role of
//! `dask.delayed`): a grid search over smoothing parameters, each candidate scored on
//! every block of a field, the scores gathered and the best one picked.
//!
//! `cargo run --release --example custom_graph`

use chunkwise::{Array, Runtime, delayed, gather};

fn main() -> chunkwise::Result<()> {
    let field = Array::random_normal(&[2000, 1000], 0.0, 1.0, 7, [500, 1000])?;
    let nblocks = field.grid().nblocks()[0];
    let mut candidates = Vec::new();
    for alpha in [0.1, 0.3, 0.5, 0.7, 0.9] {
        let alpha_task = delayed("alpha", move || Ok(alpha));
        let scores: Vec<_> = (0..nblocks)
            .map(|b| {
                let block = field.block_delayed::<f64>(&[b, 0]).expect("block in range");
                // Exponential smoothing along each row; score = mean squared step.
                block.zip(&alpha_task, "score", |x, &a| {
                    let mut err = 0.0;
                    for row in x.rows() {
                        let mut s = row[0];
                        for &v in row.iter().skip(1) {
                            let next = a * v + (1.0 - a) * s;
                            err += (next - s) * (next - s);
                            s = next;
                        }
                    }
                    Ok(err / x.len() as f64)
                })
            })
            .collect();
        candidates.push(gather(&scores, "mean-score", move |v| {
            Ok((alpha, v.iter().copied().sum::<f64>() / v.len() as f64))
        }));
    }
    let best = gather(&candidates, "best", |c| {
        Ok(c.iter()
            .copied()
            .copied()
            .fold((f64::NAN, f64::INFINITY), |b, x| if x.1 < b.1 { x } else { b }))
    });
    let (alpha, score) = Runtime::global().compute_delayed(&best)?;
    println!("best alpha {alpha} (mean squared step {score:.4})");
    Ok(())
}
