use chunkwise::*;
use std::time::Instant;
fn main() {
    let shape = [80usize, 721, 1440];
    let x = Array::random_normal(&shape, 288.0, 3.0, 1, [10, 721, 1440])
        .unwrap()
        .astype(DType::F32);
    let data = x.compute::<f32>().unwrap();
    let a = Array::from_ndarray(data, [10, 721, 1440]).unwrap();
    let rt1 = Runtime::new(Config {
        threads: 1,
        ..Default::default()
    })
    .unwrap();
    for (name, y) in [
        ("nanmean0", a.nanmean(0).unwrap()),
        ("sum0", a.sum(0).unwrap()),
        ("sumall", a.sum(None).unwrap()),
        ("nanmean12", a.nanmean([1, 2]).unwrap()),
    ] {
        for rt in [Runtime::global(), &rt1] {
            let _ = rt.compute_many(&[&y]).unwrap();
            let t = Instant::now();
            for _ in 0..5 {
                let _ = rt.compute_many(&[&y]).unwrap();
            }
            let dt = t.elapsed().as_secs_f64() / 5.0;
            println!(
                "{name} threads {}: {:.4}s {:.2} GB/s",
                rt.threads(),
                dt,
                a.nbytes() as f64 / dt / 1e9
            );
        }
    }
}
