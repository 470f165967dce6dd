//! Several host "devices": placement, residency and explicit copies without a GPU.
//!
//! With `--device host:N` ([`DeviceKind::Hosts`](crate::device::DeviceKind::Hosts)) the
//! scheduler treats the CPU as `N` devices. They share the worker pool (there is one
//! CPU), but everything else is kept per device, as it would be for GPUs:
//!
//! - **Placement.** A task with no dependencies (a load, a chunk step reading its
//!   blocks itself, a generator) goes to the devices round-robin, in the order tasks
//!   start — the static priority order, so it is the same in every run. Any other task
//!   is placed by [`place`]: each device's queue is the input bytes of the tasks running
//!   on it over [`HostDevices::compute_bytes_per_s`], each input not on it costs its
//!   bytes over [`HostDevices::link_bytes_per_s`]; ties go to the device holding most
//!   input bytes, then to the lowest number.
//! - **Residency and budgets.** A [`ResidencyMap`] records where each live value was
//!   made and where it was copied to; every device has its own byte count and peak
//!   ([`DeviceStats`]) and, under a memory limit, its own budget (the limit divided
//!   among the devices): a device is a candidate for a task only if what it holds and
//!   has promised, plus the task's output estimate, its block reads and the copies it
//!   needs, fit. When no device has room the one with most room takes the task and
//!   counts it in `over_budget`, as the scheduler's own budget does.
//! - **Explicit copies.** A task reads only values on its own device. An input held
//!   elsewhere is copied into fresh memory ([`Value::copy`]) by the scheduling thread
//!   before the task starts, and counted ([`RunStats::transfers`](super::RunStats),
//!   `transferred_bytes`). A copy that later tasks on that device will read too is kept
//!   (and accounted there) until the value is released everywhere; the copy for a
//!   value's last reader lives only while that task runs.
//! - **Release.** When a value's last consumer finishes, it is dropped on every device
//!   that holds it, at once.
//!
//! So a reduction over blocks loaded round-robin onto two devices reduces each block
//! where it was loaded and moves only partials to the device that combines them; the
//! tests in `tests/hosts.rs` assert exactly those transfers, and that results are
//! bit-identical to one device's.

use super::placement::{Candidate, DeviceId, ResidencyMap, place};
use crate::chunk::Value;
use crate::error::Result;
use crate::graph::TaskId;
use std::collections::HashMap;
use std::sync::Arc;

/// How the CPU is split into host devices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostDevices {
    /// Number of devices (at least 1).
    pub count: u16,
    /// Bytes per second a copy between two devices is modelled to take.
    pub link_bytes_per_s: f64,
    /// Bytes per second a device is modelled to work through its queue.
    pub compute_bytes_per_s: f64,
    /// Each device's own memory budget (`None`: unlimited). The runtime gives each
    /// `memory_limit / count`.
    pub memory_per_device: Option<usize>,
}

impl HostDevices {
    /// `count` devices with a link half as fast as their compute, so a value moves only
    /// when the device holding it has two tasks' worth more work queued than another.
    #[must_use]
    pub fn new(count: u16) -> Self {
        HostDevices {
            count: count.max(1),
            link_bytes_per_s: 5e9,
            compute_bytes_per_s: 10e9,
            memory_per_device: None,
        }
    }
}

/// What one device did in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Tasks it ran.
    pub tasks: usize,
    /// Highest number of bytes it held at once (values made there, copies kept there,
    /// and the copies and blocks its running tasks read).
    pub peak_bytes: usize,
    /// Copies made into it.
    pub copies_in: usize,
    /// Bytes copied into it.
    pub copied_in_bytes: usize,
    /// Tasks placed on it although they did not fit its budget, because no device had
    /// room (0 when every device kept its budget).
    pub over_budget: usize,
}

/// The per-device state of a run (owned by the scheduler's state).
pub(super) struct Hosts {
    cfg: HostDevices,
    residency: ResidencyMap,
    /// Copies kept for later readers, by value and device.
    copies: HashMap<(u32, u16), Arc<Value>>,
    /// The device each started task runs on.
    on: Vec<u16>,
    /// Bytes of the copies made for one running task alone.
    task_extra: Vec<usize>,
    /// Bytes each running task adds to its device's queue (inputs and blocks read).
    task_queue: Vec<usize>,
    /// Per device: input bytes of its running tasks (its queue).
    running: Vec<usize>,
    /// Per device: the bytes of `task_extra` of its running tasks.
    extra: Vec<usize>,
    /// Output estimates of the running tasks, per task and per device.
    task_reserved: Vec<usize>,
    reserved: Vec<usize>,
    roots: usize,
    pub stats: Vec<DeviceStats>,
    pub transfers: usize,
    pub transferred_bytes: usize,
}

impl Hosts {
    pub fn new(cfg: HostDevices, tasks: usize) -> Self {
        let n = usize::from(cfg.count.max(1));
        Hosts {
            cfg,
            residency: ResidencyMap::default(),
            copies: HashMap::new(),
            on: vec![0; tasks],
            task_extra: vec![0; tasks],
            task_queue: vec![0; tasks],
            running: vec![0; n],
            extra: vec![0; n],
            task_reserved: vec![0; tasks],
            reserved: vec![0; n],
            roots: 0,
            stats: vec![DeviceStats::default(); n],
            transfers: 0,
            transferred_bytes: 0,
        }
    }

    /// Bytes device `d` holds or has promised: values made or kept there, the copies and
    /// blocks its running tasks read, and their output estimates.
    fn used(&self, d: usize) -> usize {
        self.residency.bytes_on(DeviceId(d as u16)) + self.extra[d] + self.reserved[d]
    }

    /// Chooses the device for task `t` with dependencies `deps`, which will make an
    /// output of at most `out` bytes and read `work` bytes of blocks itself. Only devices
    /// whose budget has room for that and the copies it needs are candidates; when none
    /// has, the one with most room takes it (counted in its `over_budget`).
    pub fn place(&mut self, t: TaskId, deps: &[TaskId], out: usize, work: usize) -> u16 {
        let n = self.running.len();
        let ids: Vec<usize> = deps.iter().map(|d| d.ix()).collect();
        let inputs = self.residency.inputs(&ids);
        let budget = self.cfg.memory_per_device.unwrap_or(usize::MAX);
        let fits = |d: usize| {
            let copies: usize = inputs
                .iter()
                .filter(|i| !i.held_by(DeviceId(d as u16)))
                .map(|i| i.bytes)
                .sum();
            self.used(d).saturating_add(out + work + copies) <= budget
        };
        let fitting: Vec<bool> = (0..n).map(fits).collect();
        let chosen = if deps.is_empty() {
            // Round-robin from the next device in turn, skipping full ones.
            let start = self.roots % n;
            self.roots += 1;
            (0..n).map(|k| (start + k) % n).find(|&d| fitting[d])
        } else {
            let candidates: Vec<Candidate> = (0..n)
                .map(|d| Candidate {
                    device: DeviceId(d as u16),
                    supports: fitting[d],
                    queued_s: self.running[d] as f64 / self.cfg.compute_bytes_per_s,
                    link_bytes_per_s: self.cfg.link_bytes_per_s,
                })
                .collect();
            place(&inputs, &candidates).map(|p| usize::from(p.device.0))
        };
        let d = chosen.unwrap_or_else(|| {
            let roomiest = (0..n).min_by_key(|&d| (self.used(d), d)).unwrap_or(0);
            self.stats[roomiest].over_budget += 1;
            roomiest
        });
        self.on[t.ix()] = d as u16;
        self.stats[d].tasks += 1;
        self.task_reserved[t.ix()] = out;
        self.reserved[d] += out;
        d as u16
    }

    /// Task `t` (on its device) starts reading `work` bytes of blocks itself.
    pub fn start(&mut self, t: TaskId, work: usize) {
        let d = usize::from(self.on[t.ix()]);
        self.task_queue[t.ix()] += work;
        self.extra[d] += work;
        self.running[d] += work;
        self.peak(d);
    }

    /// The value of dependency `dep` as task `t` reads it on its device: the original
    /// or a copy there, or a new copy of `v` (counted). `keep`: later tasks read `dep`
    /// too, so a new copy stays on the device until `dep` is released. Returns the
    /// value and the bytes the copy added (0 when none was made).
    pub fn fetch(&mut self, t: TaskId, dep: TaskId, v: Arc<Value>, keep: bool) -> Result<(Arc<Value>, usize)> {
        let d = self.on[t.ix()];
        let bytes = v.nbytes();
        let di = usize::from(d);
        self.running[di] += bytes;
        self.task_queue[t.ix()] += bytes;
        if self.residency.holds(dep.ix(), DeviceId(d)) {
            let local = self.copies.get(&(dep.0, d)).cloned().unwrap_or(v);
            return Ok((local, 0));
        }
        let copy = Arc::new(v.copy()?);
        self.transfers += 1;
        self.transferred_bytes += bytes;
        let s = &mut self.stats[di];
        s.copies_in += 1;
        s.copied_in_bytes += bytes;
        if keep {
            self.residency.add_copy(dep.ix(), DeviceId(d));
            self.copies.insert((dep.0, d), Arc::clone(&copy));
        } else {
            self.task_extra[t.ix()] += bytes;
            self.extra[di] += bytes;
        }
        self.peak(di);
        Ok((copy, bytes))
    }

    /// Task `t`, which read `work` bytes of blocks itself, finished; its output of
    /// `bytes` stays on its device when `kept`. Returns the bytes of the copies made for
    /// it alone, now freed.
    pub fn finish(&mut self, t: TaskId, work: usize, bytes: usize, kept: bool) -> usize {
        let d = usize::from(self.on[t.ix()]);
        let extra = std::mem::take(&mut self.task_extra[t.ix()]);
        self.extra[d] -= extra + work;
        self.reserved[d] -= std::mem::take(&mut self.task_reserved[t.ix()]);
        self.running[d] -= std::mem::take(&mut self.task_queue[t.ix()]);
        if kept {
            self.residency.insert(t.ix(), DeviceId(d as u16), bytes);
            self.peak(d);
        }
        extra
    }

    /// Value `t` was released: dropped on every device. Returns the bytes of the copies
    /// freed (the original's bytes the caller accounts itself).
    pub fn release(&mut self, t: TaskId) -> usize {
        let mut freed = 0;
        for d in 0..self.running.len() as u16 {
            if let Some(c) = self.copies.remove(&(t.0, d)) {
                freed += c.nbytes();
            }
        }
        self.residency.remove(t.ix());
        freed
    }

    fn peak(&mut self, d: usize) {
        let now = self.residency.bytes_on(DeviceId(d as u16)) + self.extra[d];
        let s = &mut self.stats[d];
        s.peak_bytes = s.peak_bytes.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Partial;

    fn partial(n: usize) -> Arc<Value> {
        Arc::new(Value::Partial(
            Partial::Acc(crate::dtype::Buffer::F64(vec![1.0; n])),
            vec![n],
        ))
    }

    #[test]
    fn copies_are_counted_kept_for_later_readers_and_released_everywhere() {
        let mut h = Hosts::new(HostDevices::new(2), 4);
        let (a, b, c, d) = (TaskId(0), TaskId(1), TaskId(2), TaskId(3));
        // Two roots: round-robin.
        assert_eq!((h.place(a, &[], 80, 0), h.place(b, &[], 800, 0)), (0, 1));
        h.start(a, 0);
        h.start(b, 0);
        assert_eq!(h.finish(a, 0, 80, true), 0);
        assert_eq!(h.finish(b, 0, 800, true), 0);
        // c reads both: it goes where the bigger one is and copies the smaller, kept
        // because d reads it later.
        assert_eq!(h.place(c, &[a, b], 8, 0), 1);
        h.start(c, 0);
        let (_, added) = h.fetch(c, a, partial(10), true).expect("copy");
        assert_eq!(added, 80);
        let (_, added) = h.fetch(c, b, partial(100), false).expect("local");
        assert_eq!(added, 0);
        assert_eq!((h.transfers, h.transferred_bytes), (1, 80));
        assert_eq!(h.stats[1].peak_bytes, 880, "the copy counts on device 1");
        assert_eq!(h.finish(c, 0, 8, true), 0);
        // d, placed on device 1, reads a's copy there: no new copy.
        assert_eq!(h.place(d, &[a, c], 8, 0), 1);
        h.start(d, 0);
        assert_eq!(h.fetch(d, a, partial(10), false).expect("kept").1, 0);
        assert_eq!(h.transfers, 1);
        // Releasing a drops it on both devices.
        assert_eq!(h.release(a), 80, "the copy's bytes come back");
        assert_eq!(h.residency.bytes_on(DeviceId(0)), 0);
        assert_eq!(h.residency.bytes_on(DeviceId(1)), 808);
        h.release(b);
        h.release(c);
        assert_eq!(h.residency.bytes_on(DeviceId(1)), 0);
        assert!(h.copies.is_empty());
    }

    #[test]
    fn a_copy_for_the_last_reader_lives_while_it_runs() {
        let mut h = Hosts::new(HostDevices::new(2), 3);
        let (a, b, c) = (TaskId(0), TaskId(1), TaskId(2));
        h.place(a, &[], 80, 0);
        h.place(b, &[], 800, 0);
        h.finish(a, 0, 80, true);
        h.finish(b, 0, 800, true);
        assert_eq!(h.place(c, &[a, b], 8, 0), 1);
        h.start(c, 4000);
        h.fetch(c, a, partial(10), false).expect("copy");
        assert_eq!(h.stats[1].peak_bytes, 800 + 80 + 4000, "output, copy, blocks read");
        assert_eq!(h.finish(c, 4000, 8, false), 80, "the copy is freed with the task");
        assert!(h.copies.is_empty());
        assert_eq!(h.running, vec![0, 0], "queues drain");
    }

    #[test]
    fn a_full_device_is_passed_over_and_a_task_no_device_fits_is_counted() {
        let mut cfg = HostDevices::new(2);
        cfg.memory_per_device = Some(1000);
        let mut h = Hosts::new(cfg, 8);
        let t = |i: u32| TaskId(i);
        // Roots of 400 bytes: 0, 1, 0, 1 in turn; the fifth fits neither (800 + 400).
        let on: Vec<u16> = (0..4)
            .map(|i| {
                let d = h.place(t(i), &[], 400, 0);
                h.start(t(i), 0);
                h.finish(t(i), 0, 400, true);
                d
            })
            .collect();
        assert_eq!(on, vec![0, 1, 0, 1]);
        assert_eq!(h.place(t(4), &[], 400, 0), 0, "the roomiest (a tie: the lower)");
        assert_eq!(h.stats[0].over_budget, 1);
        h.start(t(4), 0);
        h.finish(t(4), 0, 0, false);
        // Device 0 frees its values. A task reading value 1 (on device 1, which holds
        // 800) with a 300-byte output fits only on device 0, copying its input there.
        h.release(t(0));
        h.release(t(2));
        assert_eq!(h.place(t(5), &[t(1)], 300, 0), 0, "device 1 has no room for 300 more");
        let (_, added) = h.fetch(t(5), t(1), partial(50), false).expect("copy");
        assert_eq!((added, h.transfers), (400, 1));
        assert_eq!(h.stats[0].over_budget + h.stats[1].over_budget, 1);
    }
}
