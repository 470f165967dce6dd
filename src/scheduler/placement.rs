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
//! deterministic. Not yet consulted by the scheduler: with one GPU the GPU executor
//! (`gpu_exec.rs`) follows a fixed rule — a chunk step runs on the GPU when it has a
//! kernel for it, a combine runs where its partials are, so partials stay where they
//! were made — and this policy comes in with several devices (GPUs, host pools).

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
    /// The device holding it.
    pub on: DeviceId,
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
            if i.on == c.device {
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
        .filter(|(_, i)| i.on != device)
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

/// Which device holds each live value (keyed by task id).
#[derive(Clone, Debug, Default)]
pub struct ResidencyMap {
    at: HashMap<usize, (DeviceId, usize)>,
    bytes: HashMap<DeviceId, usize>,
}

impl ResidencyMap {
    /// Records that task `t`'s output of `bytes` lives on `d` (replacing any earlier
    /// place: a value moved, not copied).
    pub fn insert(&mut self, t: usize, d: DeviceId, bytes: usize) {
        self.remove(t);
        self.at.insert(t, (d, bytes));
        *self.bytes.entry(d).or_default() += bytes;
    }
    /// Forgets task `t`'s output (released); returns where it was.
    pub fn remove(&mut self, t: usize) -> Option<DeviceId> {
        let (d, b) = self.at.remove(&t)?;
        if let Some(n) = self.bytes.get_mut(&d) {
            *n -= b;
        }
        Some(d)
    }
    /// Where task `t`'s output lives.
    #[must_use]
    pub fn device_of(&self, t: usize) -> Option<DeviceId> {
        self.at.get(&t).map(|&(d, _)| d)
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
            .map(|&t| {
                let (on, bytes) = self.at.get(&t).copied().unwrap_or((DeviceId(0), 0));
                Input { bytes, on }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let inputs = [Input {
            bytes: 256 << 20,
            on: GPU1,
        }];
        let p = place(&inputs, &cands([0.0; 3], true)).expect("a device");
        assert_eq!(p.device, GPU1);
        assert!(p.moves.is_empty() && p.moved_bytes == 0);
    }

    #[test]
    fn a_full_queue_sends_the_task_elsewhere_when_moving_is_cheaper() {
        // 256 MiB over PCIe ≈ 10.7 ms: a 50 ms queue on GPU1 makes moving worth it,
        // a 5 ms queue does not.
        let inputs = [Input {
            bytes: 256 << 20,
            on: GPU1,
        }];
        let p = place(&inputs, &cands([1.0, 0.0, 0.050], true)).expect("a device");
        assert_eq!(p.device, GPU0);
        assert_eq!((p.moves.clone(), p.moved_bytes), (vec![0], 256 << 20));
        assert!((p.cost_s - (256 << 20) as f64 / PCIE).abs() < 1e-9);
        let p = place(&inputs, &cands([1.0, 0.0, 0.005], true)).expect("a device");
        assert_eq!(p.device, GPU1);
    }

    #[test]
    fn an_op_without_a_kernel_runs_on_the_cpu() {
        let inputs = [Input {
            bytes: 1 << 20,
            on: GPU0,
        }];
        let p = place(&inputs, &cands([0.0; 3], false)).expect("the CPU");
        assert_eq!(p.device, CPU);
        assert_eq!(p.moved_bytes, 1 << 20);
        let none: Vec<Candidate> = cands([0.0; 3], false).into_iter().filter(|c| c.device != CPU).collect();
        assert!(place(&inputs, &none).is_none());
    }

    #[test]
    fn ties_go_to_the_device_holding_more_then_to_the_lowest_number() {
        // Inputs split evenly over both GPUs, equal queues: the same cost either way.
        let inputs = [
            Input {
                bytes: 1 << 20,
                on: GPU0,
            },
            Input {
                bytes: 1 << 20,
                on: GPU1,
            },
        ];
        let gpus: Vec<Candidate> = cands([0.0; 3], true).into_iter().filter(|c| c.device != CPU).collect();
        assert_eq!(place(&inputs, &gpus).expect("a gpu").device, GPU0);
        let swapped: Vec<Candidate> = gpus.iter().rev().copied().collect();
        assert_eq!(
            place(&inputs, &swapped).expect("a gpu").device,
            GPU0,
            "order of candidates does not matter"
        );
        // Host-resident inputs and free devices: the CPU costs nothing to reach.
        let host = [Input {
            bytes: 1 << 20,
            on: CPU,
        }];
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
        assert_eq!(
            r.inputs(&[7, 9]),
            vec![Input { bytes: 100, on: GPU1 }, Input { bytes: 0, on: CPU }]
        );
        assert_eq!(r.remove(8), Some(GPU1));
        assert_eq!(r.bytes_on(GPU1), 100);
        assert_eq!(r.remove(8), None);
    }
}
