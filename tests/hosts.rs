//! Several host devices (`--device host:N`): placement, residency, explicit copies and
//! release run end to end without a GPU. Results must be bit-identical to one device's,
//! and the copies must be the ones the placement policy predicts: a reduction over
//! blocks spread round-robin moves only partials, never blocks.

mod common;

use chunkwise::array::ReduceOptions;
use chunkwise::device::DeviceKind;
use chunkwise::{Array, Chunk, Config, DType, ReduceOp, RunStats, Runtime, SchedulerKind};

fn runtime(device: DeviceKind, scheduler: SchedulerKind, threads: usize) -> Runtime {
    Runtime::new(Config {
        threads,
        scheduler,
        device,
        ..Config::default()
    })
    .expect("runtime")
}

/// A result as exact text: dtype, shape and every value (Rust prints the shortest
/// string that reads back to the same bits, NaN as NaN).
fn exact(c: &Chunk) -> String {
    format!("{} {:?} {:?}", c.dtype(), c.shape(), c.data())
}

fn run(device: DeviceKind, scheduler: SchedulerKind, threads: usize, arrays: &[&Array]) -> (Vec<String>, RunStats) {
    let (out, stats) = runtime(device, scheduler, threads)
        .compute_with_stats(arrays)
        .expect("compute");
    (out.iter().map(exact).collect(), stats)
}

fn split(se: usize) -> ReduceOptions {
    ReduceOptions {
        split_every: se,
        ..ReduceOptions::default()
    }
}

#[test]
fn a_reduction_over_blocks_spread_round_robin_moves_only_partials() {
    // 8 blocks of (10, 6) along axis 0, split_every 2: four chunk steps (each reading
    // two blocks itself, so they have no dependencies and go round-robin in start
    // order), then a binary tree of combines. Each partial is 6 sums = 48 bytes.
    let r = common::data(&[80, 6], DType::F64, 1, 0.1);
    let x = common::array_in_blocks(&r, DType::F64, &[10, 6]);
    let s = x.reduce(ReduceOp::NanSum, [0], &split(2)).expect("sum");
    let (want, one) = run(DeviceKind::Cpu, SchedulerKind::Sync, 1, &[&s]);
    assert_eq!((one.transfers, one.devices.len()), (0, 0), "one device moves nothing");
    // The policy, by hand: steps on devices 0,1,2,3,0,... in priority order
    // (step0, step1, combine, step2, step3, combine, combine). A combine goes where its
    // inputs are; a tie (one partial on each of two devices) to the lowest number.
    //   2 devices: A(0,1)→0 moves 1; B(0,1)→0 moves 1; C(0,0) moves 0  → 2
    //   3 devices: A(0,1)→0 moves 1; B(2,0)→0 moves 1; C(0,0)          → 2
    //   4 devices: A(0,1)→0 moves 1; B(2,3)→2 moves 1; C(0,2)→0 moves 1 → 3
    for (n, copies, per_device) in [
        (1u16, 0, vec![7]),
        (2, 2, vec![5, 2]),
        (3, 2, vec![5, 1, 1]),
        (4, 3, vec![3, 1, 2, 1]),
    ] {
        let (got, st) = run(DeviceKind::Hosts(n), SchedulerKind::Sync, 1, &[&s]);
        assert_eq!(got, want, "{n} devices: same bits as one");
        assert_eq!(st.transfers, copies, "{n} devices: copies");
        assert_eq!(st.transferred_bytes, copies * 48, "{n} devices: only partials moved");
        let tasks: Vec<usize> = st.devices.iter().map(|d| d.tasks).collect();
        assert_eq!(tasks, per_device, "{n} devices: tasks per device");
        let copied: usize = st.devices.iter().map(|d| d.copied_in_bytes).sum();
        assert_eq!(copied, st.transferred_bytes);
        for d in &st.devices {
            assert!(d.peak_bytes <= st.peak_bytes, "a device holds part of the whole");
        }
    }
}

#[test]
fn every_reduction_gives_the_same_bits_on_several_devices() {
    let r = common::data(&[9, 7, 11], DType::F64, 7, 0.15);
    let shapes_axes: [&[usize]; 4] = [&[0], &[1, 2], &[0, 2], &[0, 1, 2]];
    for dtype in [DType::F32, DType::I32] {
        for chunks in [[2, 7, 4], [4, 3, 11]] {
            let x = common::array_in_blocks(&r, dtype, &chunks);
            for op in ReduceOp::ALL {
                for axes in shapes_axes {
                    if op.is_arg() && axes.len() > 1 && axes.len() < 3 {
                        continue;
                    }
                    let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                    let what = format!("{op:?} {dtype} chunks {chunks:?} axes {axes:?}");
                    let Ok(s) = x.reduce(op, ax, &split(3)) else {
                        panic!("{what}: reduce")
                    };
                    let want = runtime(DeviceKind::Cpu, SchedulerKind::Sync, 1).compute_many(&[&s]);
                    for (n, sched, threads) in [(2, SchedulerKind::Sync, 1), (3, SchedulerKind::Threaded, 2)] {
                        let got = runtime(DeviceKind::Hosts(n), sched, threads).compute_many(&[&s]);
                        match (&want, got) {
                            (Ok(w), Ok(g)) => assert_eq!(exact(&g[0]), exact(&w[0]), "{what} on {n} devices"),
                            (Err(w), Err(g)) => {
                                // An all-NaN slice for nanargmin: the same error.
                                assert!(g.to_string().contains(&w.to_string()), "{what}: {g} vs {w}");
                            }
                            (w, g) => panic!("{what} on {n} devices: {w:?} vs {g:?}"),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn fused_chains_and_broadcasts_give_the_same_bits_on_several_devices() {
    // The anomaly: a fused elementwise chain with a broadcast of a reduction's result,
    // reduced again; and a fused transcendental chain kept as an array.
    let r = common::data(&[12, 10, 8], DType::F32, 3, 0.05);
    let x = common::array_in_blocks(&r, DType::F32, &[3, 5, 8]);
    let mean = x.nanmean([0]).expect("mean");
    let anom = &x - &mean;
    let spread = anom.nanstd([1, 2], 0.0).expect("std");
    let ones = &x.sin().square() + &x.cos().square();
    let (want, _) = run(DeviceKind::Cpu, SchedulerKind::Sync, 1, &[&spread, &ones, &anom]);
    for (n, sched, threads) in [
        (2, SchedulerKind::Sync, 1),
        (2, SchedulerKind::Threaded, 2),
        (5, SchedulerKind::Threaded, 2),
    ] {
        let (got, st) = run(DeviceKind::Hosts(n), sched, threads, &[&spread, &ones, &anom]);
        assert_eq!(got, want, "{n} devices, {sched:?}");
        assert_eq!(st.devices.len(), usize::from(n));
        assert_eq!(st.devices.iter().map(|d| d.tasks).sum::<usize>(), st.tasks);
        assert!(
            st.devices.iter().all(|d| d.tasks > 0),
            "{n} devices: every device ran something ({:?})",
            st.devices
        );
    }
    // The sync run is the policy's prediction exactly: the mean is made on one device
    // and each device that reads it gets one copy, kept for its later readers.
    let (_, st) = run(DeviceKind::Hosts(2), SchedulerKind::Sync, 1, &[&anom]);
    let mean_bytes = 10 * 8 * 4;
    assert!(
        st.transferred_bytes <= mean_bytes,
        "at most one copy of the mean: {} bytes moved",
        st.transferred_bytes
    );
}

#[test]
fn a_value_many_tasks_read_is_copied_to_a_device_once_and_blocks_stay() {
    // y = x + m with m = x.sum(0) (one task) read by all 8 block tasks of y. The loads
    // of x's blocks and m's task have no dependencies, so they go round-robin; each
    // block task then has its block (640 bytes) on one device and m (320 bytes) on one:
    // the policy runs it where the block is and copies m, once per device, keeping the
    // copy for that device's later readers.
    let r = common::data(&[16, 40], DType::F64, 5, 0.0);
    let x = common::array_in_blocks(&r, DType::F64, &[2, 40]);
    let m = x.reduce(ReduceOp::Sum, [0], &split(16)).expect("sum");
    let y = &x + &m;
    let (want, _) = run(DeviceKind::Cpu, SchedulerKind::Sync, 1, &[&y]);
    for n in [2u16, 3] {
        let (got, st) = run(DeviceKind::Hosts(n), SchedulerKind::Sync, 1, &[&y]);
        assert_eq!(got, want, "{n} devices");
        let copies = usize::from(n) - 1;
        assert_eq!((st.transfers, st.transferred_bytes), (copies, copies * 320), "{st:?}");
        assert!(st.devices.iter().all(|d| d.copies_in <= 1), "{:?}", st.devices);
    }
    // With 2 threads the queues also count, so a block may move to an idle device;
    // the results may not change.
    for n in [2, 4] {
        for _ in 0..3 {
            let (got, st) = run(DeviceKind::Hosts(n), SchedulerKind::Threaded, 2, &[&y]);
            assert_eq!(got, want, "{n} devices, threaded");
            assert!(st.transferred_bytes <= st.transfers * 640, "{st:?}");
        }
    }
}

#[test]
fn each_device_keeps_its_share_of_the_memory_budget() {
    // 1.6 MB of stored f64 in 80 KB blocks under a 600 KB limit: each of N devices
    // gets 600/N KB and no device may hold more (the engine's own accounting).
    let r = common::data(&[400, 500], DType::F64, 11, 0.02);
    let (_, x) = common::counting(&r, &[20, 500]);
    let limit = 600 << 10;
    let mean = x.nanmean([0]).expect("mean");
    let spread = (&x - &mean).nanstd([1], 0.0).expect("anomaly");
    // The budget changes the graph (x is re-read rather than held), so the reference
    // is one device under the same limit.
    let want: Vec<String> = Runtime::new(Config {
        threads: 1,
        scheduler: SchedulerKind::Sync,
        device: DeviceKind::Cpu,
        memory_limit: Some(limit),
        ..Config::default()
    })
    .expect("runtime")
    .compute_many(&[&mean, &spread])
    .expect("one device")
    .iter()
    .map(exact)
    .collect();
    for (n, sched) in [(2u16, SchedulerKind::Sync), (3, SchedulerKind::Threaded)] {
        let rt = Runtime::new(Config {
            threads: 2,
            scheduler: sched,
            device: DeviceKind::Hosts(n),
            memory_limit: Some(limit),
            ..Config::default()
        })
        .expect("runtime");
        let (got, st) = rt.compute_with_stats(&[&mean, &spread]).expect("within budget");
        assert!(
            got.iter().map(exact).eq(want.iter().cloned()),
            "{n} devices: other bits"
        );
        let share = limit / usize::from(n);
        for (d, s) in st.devices.iter().enumerate() {
            assert_eq!(s.over_budget, 0, "{n} devices: device {d} {s:?}");
            assert!(
                s.peak_bytes <= share,
                "{n} devices: device {d} held {} > {share}",
                s.peak_bytes
            );
            assert!(s.tasks > 0, "{n} devices: device {d} unused");
        }
        assert!(st.peak_bytes <= limit, "{} > {limit}", st.peak_bytes);
    }
    // A third of 250 KB cannot hold one task (a block, its share of the mean and its
    // output, ~88 KB): refused before anything runs, naming the limit that would work.
    let rt = Runtime::new(Config {
        device: DeviceKind::Hosts(3),
        memory_limit: Some(250_000),
        ..Config::default()
    })
    .expect("runtime");
    let e = rt.compute_many(&[&spread]).expect_err("a device's share is too small");
    let msg = e.to_string();
    assert!(
        msg.contains("one of 3 host devices") && msg.contains("would work"),
        "{msg}"
    );
}

#[test]
fn host_devices_are_named_by_the_cli_and_bad_counts_are_one_line_errors() {
    let exe = env!("CARGO_BIN_EXE_chunkwise");
    for bad in ["host:0", "host:many"] {
        let out = std::process::Command::new(exe)
            .args(["reduce", "/nonexistent.zarr", "--op", "sum", "--device", bad])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{bad}: {err}");
        assert!(err.contains("host:N with N from 1 to 64"), "{bad}: {err}");
    }
}

#[test]
fn the_cli_reduces_on_host_devices_and_reports_the_copies() {
    let dir = std::env::temp_dir().join(format!("cw-hosts-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("x.zarr");
    let r = common::data(&[24, 30], DType::F32, 9, 0.1);
    let x = common::array(&r, DType::F32, &[4, 30]);
    x.to_zarr(&path, &chunkwise::io::zarr_write::ZarrWriteOptions::default())
        .expect("write");
    let exe = env!("CARGO_BIN_EXE_chunkwise");
    let reduce = |device: &str| {
        let npy = dir.join(format!("{}.npy", device.replace(':', "")));
        let out = std::process::Command::new(exe)
            .args([
                "reduce",
                path.to_str().expect("utf-8 path"),
                "--op",
                "nanstd",
                "--axis",
                "0",
            ])
            .args([
                "--threads",
                "2",
                "--device",
                device,
                "--out",
                npy.to_str().expect("utf-8 path"),
            ])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{device}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            std::fs::read(&npy).expect("result"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (one, _) = reduce("cpu");
    let (two, note) = reduce("host:2");
    assert_eq!(two, one, "same answer on two host devices");
    assert!(note.starts_with("host devices: "), "{note}");
    assert!(note.contains("host0 ") && note.contains("host1 "), "{note}");
    let _ = std::fs::remove_dir_all(&dir);
}
