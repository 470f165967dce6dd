//! Where a task runs: the residency map and the placement policy.
//!
//! With several devices (GPUs, or host "devices" — CPU pools with their own memory
//! accounting), each live chunk sits on one of them. A task should run where moving
//! its inputs costs least, unless that device's queue is so long that moving the data
//! elsewhere finishes sooner, and only on a device that has a kernel for it (the CPU
//! runs everything). [`place`] is that decision as a pure function of the inputs'
//! sizes and locations and each candidate's state, so it is tested on constructed
//! situations and its predicted transfers can be compared with the ones a run makes.
//!
//! The cost of a candidate `d` is its queued work (seconds) plus, for every input not
//! already on `d`, the bytes moved divided by the slower link of the two ends (a copy
//! between two GPUs goes through the host). The lowest cost wins; equal costs go to the
//! device holding most input bytes, then to the lowest device number, so the choice is
//! deterministic.
//!
//! The scheduler consults it for a reduction's chunk step under `--device auto`
//! ([`chunk_step_on_gpu`]): inputs on the host, the CPU's cost the time its kernel takes,
//! the GPU's the time to stage and copy the bytes over (its kernels are far faster than
//! either). The rates are measured (H100 host, 16 threads, 2026-11-23, `chunkwise bench
//! … --device cpu|cuda`): a plain sum-like pass is as fast on the CPU as the copy to the
//! GPU, so it stays; moments, arg-reductions and fused elementwise prologues cost the
//! CPU more than the copy, so they go. `--device cuda` runs every chunk step the GPU
//! can take there. Combines run where their partials are (the GPU executor's rule), so
//! partials stay where they were made. With several host devices ([`super::hosts`])
//! the scheduler calls [`place`] for every task that has inputs, with each device's
//! queue, its budget (a device without room does not support the task) and a
//! [`ResidencyMap`] that also knows the copies already made.

use std::collections::HashMap;

/// A device's index in the runtime's device list (0 is the host CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u16);

/// What the policy knows about one device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The device.
    pub device: DeviceId,
    /// Whether it has a kernel for the task's op.
    pub supports: bool,
    /// Seconds of work already queued on it.
    pub queued_s: f64,
    /// Bytes per second it copies to or from the host (`f64::INFINITY` for the host).
    pub link_bytes_per_s: f64,
}

/// One input of a task: its size and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input {
    /// Bytes.
    pub bytes: usize,
    /// The device holding it (where it was made).
    pub on: DeviceId,
    /// Other devices holding a copy (bit `d` for device `d`; devices 64 and up are not
    /// tracked and count as not holding one).
    pub copies: u64,
}

impl Input {
    /// An input of `bytes` held by `on` only.
    #[must_use]
    pub fn at(bytes: usize, on: DeviceId) -> Self {
        Input { bytes, on, copies: 0 }
    }

    /// Whether device `d` holds it (the original or a copy).
    #[must_use]
    pub fn held_by(&self, d: DeviceId) -> bool {
        self.on == d || (d.0 < 64 && self.copies & (1 << d.0) != 0)
    }
}

/// The decision and what it implies.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// Where the task runs.
    pub device: DeviceId,
    /// The inputs that must be copied there (indices into the task's inputs).
    pub moves: Vec<usize>,
    /// Bytes copied.
    pub moved_bytes: usize,
    /// The winning cost in seconds (queue + transfers).
    pub cost_s: f64,
}

/// Chooses the device for a task with `inputs` among `candidates`; `None` when no
/// candidate supports the op (the caller then runs it on the CPU, which always does).
#[must_use]
pub fn place(inputs: &[Input], candidates: &[Candidate]) -> Option<Placement> {
    let link = |d: DeviceId| {
        candidates
            .iter()
            .find(|c| c.device == d)
            .map_or(f64::INFINITY, |c| c.link_bytes_per_s)
    };
    let mut best: Option<(f64, usize, DeviceId)> = None;
    for c in candidates.iter().filter(|c| c.supports) {
        let mut cost = c.queued_s.max(0.0);
        let mut local = 0usize;
        for i in inputs {
            if i.held_by(c.device) {
                local += i.bytes;
            } else {
                let bw = link(i.on).min(c.link_bytes_per_s);
                if bw.is_finite() && bw > 0.0 {
                    cost += i.bytes as f64 / bw;
                }
            }
        }
        // Lower cost; then more bytes already local; then the lower device number.
        let better = match best {
            None => true,
            Some((bc, bl, bd)) => cost < bc || (cost == bc && (local > bl || (local == bl && c.device < bd))),
        };
        if better {
            best = Some((cost, local, c.device));
        }
    }
    let (cost_s, _, device) = best?;
    let moves: Vec<usize> = inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.held_by(device))
        .map(|(k, _)| k)
        .collect();
    let moved_bytes = moves.iter().map(|&k| inputs[k].bytes).sum();
    Some(Placement {
        device,
        moves,
        moved_bytes,
        cost_s,
    })
}

/// Bytes per second the host moves to a GPU through the pinned staging buffers, all
/// workers together (measured: 25.5 GB/s for an in-memory nanmean on the H100 host).
pub const HOST_TO_GPU_BYTES_PER_S: f64 = 25e9;

/// Bytes per second the CPU's chunk-step kernels reduce, all workers together, by kind
/// of work (measured on the same host: nanmean of an in-memory field 28.6 GB/s; nanstd
/// and argmin/argmax about 1.6× and 3× slower; a fused prologue evaluated tile by tile
/// made the anomaly 2.7× slower than on the GPU).
#[must_use]
pub fn cpu_reduce_bytes_per_s(op: crate::ops::ReduceOp, fused_prologue: bool) -> f64 {
    use crate::ops::PartialKind;
    if fused_prologue {
        return 5e9;
    }
    match op.partial_kind() {
        PartialKind::Acc | PartialKind::Mean => 28e9,
        PartialKind::Moments => 17e9,
        PartialKind::Arg => 9e9,
    }
}

/// Whether a reduction's chunk step over `bytes` of host data is cheaper on the GPU
/// than on the CPU: [`place`] with the CPU's kernel time as its queue and the GPU's
/// link at [`HOST_TO_GPU_BYTES_PER_S`].
#[must_use]
pub fn chunk_step_on_gpu(op: crate::ops::ReduceOp, fused_prologue: bool, bytes: usize) -> bool {
    let (cpu, gpu) = (DeviceId(0), DeviceId(1));
    let candidates = [
        Candidate {
            device: cpu,
            supports: true,
            queued_s: bytes as f64 / cpu_reduce_bytes_per_s(op, fused_prologue),
            link_bytes_per_s: f64::INFINITY,
        },
        Candidate {
            device: gpu,
            supports: true,
            queued_s: 0.0,
            link_bytes_per_s: HOST_TO_GPU_BYTES_PER_S,
        },
    ];
    place(&[Input::at(bytes, cpu)], &candidates).is_some_and(|p| p.device == gpu)
}

/// Which devices hold each live value (keyed by task id): where it was made, and the
/// devices it was copied to since; and the bytes each device holds in all.
#[derive(Clone, Debug, Default)]
pub struct ResidencyMap {
    at: HashMap<usize, Held>,
    bytes: HashMap<DeviceId, usize>,
}

#[derive(Clone, Debug)]
struct Held {
    on: DeviceId,
    bytes: usize,
    copies: Vec<DeviceId>,
}

impl ResidencyMap {
    /// Records that task `t`'s output of `bytes` lives on `d` (replacing any earlier
    /// place and its copies: a value moved, not copied).
    pub fn insert(&mut self, t: usize, d: DeviceId, bytes: usize) {
        self.remove(t);
        self.at.insert(
            t,
            Held {
                on: d,
                bytes,
                copies: Vec::new(),
            },
        );
        *self.bytes.entry(d).or_default() += bytes;
    }
    /// Records a copy of task `t`'s output on `d` (nothing when `d` holds it already or
    /// the value is unknown); returns the bytes `d` gained.
    pub fn add_copy(&mut self, t: usize, d: DeviceId) -> usize {
        let Some(h) = self.at.get_mut(&t) else { return 0 };
        if h.on == d || h.copies.contains(&d) {
            return 0;
        }
        h.copies.push(d);
        *self.bytes.entry(d).or_default() += h.bytes;
        h.bytes
    }
    /// Forgets task `t`'s output and its copies (released); returns where it was made.
    pub fn remove(&mut self, t: usize) -> Option<DeviceId> {
        let h = self.at.remove(&t)?;
        for d in std::iter::once(h.on).chain(h.copies) {
            if let Some(n) = self.bytes.get_mut(&d) {
                *n -= h.bytes;
            }
        }
        Some(h.on)
    }
    /// Where task `t`'s output was made.
    #[must_use]
    pub fn device_of(&self, t: usize) -> Option<DeviceId> {
        self.at.get(&t).map(|h| h.on)
    }
    /// Whether `d` holds task `t`'s output (the original or a copy).
    #[must_use]
    pub fn holds(&self, t: usize, d: DeviceId) -> bool {
        self.at.get(&t).is_some_and(|h| h.on == d || h.copies.contains(&d))
    }
    /// Bytes held on `d`.
    #[must_use]
    pub fn bytes_on(&self, d: DeviceId) -> usize {
        self.bytes.get(&d).copied().unwrap_or(0)
    }
    /// The task's inputs as the policy sees them (unknown values count as on the host).
    #[must_use]
    pub fn inputs(&self, deps: &[usize]) -> Vec<Input> {
        deps.iter()
            .map(|&t| match self.at.get(&t) {
                Some(h) => Input {
                    bytes: h.bytes,
                    on: h.on,
                    copies: h.copies.iter().filter(|d| d.0 < 64).fold(0, |m, d| m | (1 << d.0)),
                },
                None => Input::at(0, DeviceId(0)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_sends_heavy_chunk_steps_to_the_gpu_and_keeps_plain_sums() {
        use crate::ops::ReduceOp;
        let mb = 41 << 20;
        assert!(
            !chunk_step_on_gpu(ReduceOp::NanMean, false, mb),
            "a plain mean stays on the CPU"
        );
        assert!(!chunk_step_on_gpu(ReduceOp::Sum, false, mb));
        assert!(chunk_step_on_gpu(ReduceOp::NanStd, false, mb), "moments go to the GPU");
        assert!(chunk_step_on_gpu(ReduceOp::ArgMax, false, mb));
        assert!(
            chunk_step_on_gpu(ReduceOp::NanMean, true, mb),
            "a fused prologue goes to the GPU"
        );
        // No bytes: a tie, and ties stay where the data is.
        assert!(!chunk_step_on_gpu(ReduceOp::NanStd, false, 0));
    }

    const CPU: DeviceId = DeviceId(0);
    const GPU0: DeviceId = DeviceId(1);
    const GPU1: DeviceId = DeviceId(2);
    const PCIE: f64 = 25e9;

    fn cands(queue: [f64; 3], supports_gpu: bool) -> Vec<Candidate> {
        vec![
            Candidate {
                device: CPU,
                supports: true,
                queued_s: queue[0],
                link_bytes_per_s: f64::INFINITY,
            },
            Candidate {
                device: GPU0,
                supports: supports_gpu,
                queued_s: queue[1],
                link_bytes_per_s: PCIE,
            },
            Candidate {
                device: GPU1,
                supports: supports_gpu,
                queued_s: queue[2],
                link_bytes_per_s: PCIE,
            },
        ]
    }

    #[test]
    fn data_on_a_gpu_keeps_the_task_there() {
        let inputs = [Input::at(256 << 20, GPU1)];
        let p = place(&inputs, &cands([0.0; 3], true)).expect("a device");
        assert_eq!(p.device, GPU1);
        assert!(p.moves.is_empty() && p.moved_bytes == 0);
    }

    #[test]
    fn a_full_queue_sends_the_task_elsewhere_when_moving_is_cheaper() {
        // 256 MiB over PCIe ≈ 10.7 ms: a 50 ms queue on GPU1 makes moving worth it,
        // a 5 ms queue does not.
        let inputs = [Input::at(256 << 20, GPU1)];
        let p = place(&inputs, &cands([1.0, 0.0, 0.050], true)).expect("a device");
        assert_eq!(p.device, GPU0);
        assert_eq!((p.moves.clone(), p.moved_bytes), (vec![0], 256 << 20));
        assert!((p.cost_s - (256 << 20) as f64 / PCIE).abs() < 1e-9);
        let p = place(&inputs, &cands([1.0, 0.0, 0.005], true)).expect("a device");
        assert_eq!(p.device, GPU1);
    }

    #[test]
    fn an_op_without_a_kernel_runs_on_the_cpu() {
        let inputs = [Input::at(1 << 20, GPU0)];
        let p = place(&inputs, &cands([0.0; 3], false)).expect("the CPU");
        assert_eq!(p.device, CPU);
        assert_eq!(p.moved_bytes, 1 << 20);
        let none: Vec<Candidate> = cands([0.0; 3], false).into_iter().filter(|c| c.device != CPU).collect();
        assert!(place(&inputs, &none).is_none());
    }

    #[test]
    fn ties_go_to_the_device_holding_more_then_to_the_lowest_number() {
        // Inputs split evenly over both GPUs, equal queues: the same cost either way.
        let inputs = [Input::at(1 << 20, GPU0), Input::at(1 << 20, GPU1)];
        let gpus: Vec<Candidate> = cands([0.0; 3], true).into_iter().filter(|c| c.device != CPU).collect();
        assert_eq!(place(&inputs, &gpus).expect("a gpu").device, GPU0);
        let swapped: Vec<Candidate> = gpus.iter().rev().copied().collect();
        assert_eq!(
            place(&inputs, &swapped).expect("a gpu").device,
            GPU0,
            "order of candidates does not matter"
        );
        // Host-resident inputs and free devices: the CPU costs nothing to reach.
        let host = [Input::at(1 << 20, CPU)];
        assert_eq!(place(&host, &cands([0.0; 3], true)).expect("a device").device, CPU);
    }

    #[test]
    fn residency_follows_inserts_moves_and_releases() {
        let mut r = ResidencyMap::default();
        r.insert(7, GPU0, 100);
        r.insert(8, GPU1, 50);
        assert_eq!(r.device_of(7), Some(GPU0));
        assert_eq!(r.bytes_on(GPU0), 100);
        r.insert(7, GPU1, 100); // moved
        assert_eq!((r.bytes_on(GPU0), r.bytes_on(GPU1)), (0, 150));
        assert_eq!(r.inputs(&[7, 9]), vec![Input::at(100, GPU1), Input::at(0, CPU)]);
        assert_eq!(r.remove(8), Some(GPU1));
        assert_eq!(r.bytes_on(GPU1), 100);
        assert_eq!(r.remove(8), None);
        // A copy counts on its device, makes the input local there, and goes with
        // the value.
        assert_eq!(r.add_copy(7, CPU), 100);
        assert_eq!(r.add_copy(7, CPU), 0, "already there");
        assert_eq!(r.add_copy(7, GPU1), 0, "made there");
        assert!(r.holds(7, CPU) && r.holds(7, GPU1) && !r.holds(7, GPU0));
        let i = r.inputs(&[7])[0];
        assert!(i.held_by(CPU) && i.held_by(GPU1) && !i.held_by(GPU0));
        assert_eq!(r.bytes_on(CPU), 100);
        assert_eq!(r.remove(7), Some(GPU1));
        assert_eq!((r.bytes_on(CPU), r.bytes_on(GPU1)), (0, 0));
    }

    #[test]
    fn a_copy_already_made_is_not_made_again() {
        // The input was made on GPU0 and copied to GPU1 earlier: GPU1 can take the task
        // without moving anything, so a busier GPU0 loses it.
        let mut i = Input::at(64 << 20, GPU0);
        i.copies = 1 << GPU1.0;
        let p = place(&[i], &cands([1.0, 0.010, 0.0], true)).expect("a device");
        assert_eq!((p.device, p.moved_bytes), (GPU1, 0));
    }
}
