//! The threaded scheduler: worker loops on a rayon pool, sharing the state under one
//! lock.
//!
//! A loop that finishes a task hands its result in (a lock-free queue), takes the lock,
//! records every result handed in so far ([`State::finish`]: refcounts, release, newly
//! ready tasks), pops the next startable task by priority and its inputs, and lets go
//! of the lock before it runs the task. Handing results in before taking the lock means
//! a loop that waits for the lock (the OS took its thread away, or another loop keeps
//! winning the lock) does not hide its result from the loops that choose next. So at most one task per
//! thread is in flight, and the next task is chosen only when a thread is free, with
//! the most recent knowledge of what finished: that is what makes the priority order
//! (and the memory budget) hold; how far the run may get ahead of the one-worker order
//! under a budget is `src/scheduler/ahead.rs`. A loop that finds nothing it can start stops, and a
//! loop that leaves ready work behind starts more loops, up to one per thread. Loops
//! never wait inside the pool: a task's own rayon work (zarrs writing a store in
//! parallel, say) may be stolen by another thread, which could then pick up a loop job
//! while it waits; a loop that blocked there for other tasks would never return to the
//! stolen work (this deadlocked `tests/writers.rs` in a first version that waited on a
//! condition variable).
//!
//! Why not a dispatching thread: the first version kept the state on the calling
//! thread, which sent each task to the pool and received `(task, result)` back over a
//! channel. On a 2-core machine that thread shares the cores with the workers, and
//! every hand-off waited for it to be scheduled again: traces of the in-memory
//! `nanmean(axis=0)` showed one worker idle ~1.5 ms between its 2.5 ms tasks. Measured
//! here, the build before against this one, interleaved (`chunkwise bench scheduler`
//! and `nanmean-memory` with `--size medium --repeat 5`, two rounds on each of two
//! days): scheduler overhead 1.9–2.6 → 0.75–1.06 µs per task (fan-in graph) and
//! 4.7–7.8 → 3.3–4.2 (array graph), in-memory `nanmean(axis=0)` medians 0.080–0.123 →
//! 0.077–0.083 s; the Zarr v2 nanmean moved within its noise (0.38–0.48 s both).
//!
//! Progress reports are made under the lock (so they arrive in order) and sent over a
//! crossbeam channel to the calling thread, which runs the callback: a slow callback
//! (a terminal progress bar) never holds up the workers. The last loop to stop ends
//! the reports.

use super::state::State;
use super::trace::Span;
use super::{Progress, RunOptions, execute};
use crate::chunk::Value;
use crate::error::{Error, Result};
use crate::graph::TaskId;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError};

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// What the worker loops share: the state, the tasks running, the loops running, the
/// first error.
struct Shared<'s, 'g> {
    st: &'s mut State<'g>,
    in_flight: usize,
    loops: usize,
    err: Option<Error>,
}

/// A progress report, or the end of the run (sent once, by the last loop to stop).
enum Report {
    Progress(Progress),
    End,
}

/// What every worker loop reads.
struct Ctx<'a, 's, 'g> {
    shared: Mutex<Shared<'s, 'g>>,
    opts: &'a RunOptions,
    sinks: &'a super::sink::Sinks,
    g: &'g crate::graph::TaskGraph,
    origin: std::time::Instant,
    threads: usize,
    /// Results of finished tasks not yet recorded in the state (see [`worker`]).
    finished: crossbeam::queue::SegQueue<(TaskId, Result<Value>, Span)>,
    reports: Option<crossbeam::channel::Sender<Report>>,
}

pub(super) fn run(
    st: &mut State<'_>,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    sinks: &super::sink::Sinks,
) -> Result<()> {
    let threads = pool.current_num_threads().max(1);
    let g = st.g;
    let (tx, rx) = crossbeam::channel::unbounded::<Report>();
    let ctx = Ctx {
        shared: Mutex::new(Shared {
            st,
            in_flight: 0,
            loops: threads,
            err: None,
        }),
        opts,
        sinks,
        g,
        origin: std::time::Instant::now(),
        threads,
        finished: crossbeam::queue::SegQueue::new(),
        reports: opts.progress.is_some().then_some(tx),
    };
    let ctx = &ctx;
    pool.in_place_scope(|scope| {
        for _ in 0..threads {
            scope.spawn(move |s| guarded(s, ctx));
        }
        // The calling thread runs the progress callback until the last loop stops.
        if let Some(cb) = &opts.progress {
            while let Ok(Report::Progress(p)) = rx.recv() {
                cb(p);
            }
        }
    });
    let err = ctx.shared.lock().unwrap_or_else(PoisonError::into_inner).err.take();
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// [`worker`], with a panic outside a task (a scheduler bug) made the run's error.
fn guarded<'c>(scope: &rayon::Scope<'c>, ctx: &'c Ctx<'c, '_, '_>) {
    if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(|| worker(scope, ctx))) {
        let mut s = ctx.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if s.err.is_none() {
            s.err = Some(Error::Panic(panic_message(&*p)));
        }
        stop(&mut s, ctx);
    }
}

/// A loop stops: the last one to stop ends the progress reports.
fn stop(s: &mut Shared<'_, '_>, ctx: &Ctx<'_, '_, '_>) {
    s.loops -= 1;
    if s.loops == 0
        && let Some(tx) = &ctx.reports
    {
        let _ = tx.send(Report::End);
    }
}

/// One worker loop: record the last task's result, take the next startable task, run
/// it; stop when nothing can start (a loop never waits inside the pool, so a task's
/// own rayon work, stolen by another thread, is never stuck behind a waiting loop).
fn worker<'c>(scope: &rayon::Scope<'c>, ctx: &'c Ctx<'c, '_, '_>) {
    let g = ctx.g;
    loop {
        // A panic in a task is caught around it, never under the lock.
        let mut s = ctx.shared.lock().unwrap_or_else(PoisonError::into_inner);
        // Every result handed in so far, this loop's own and those of loops still
        // waiting for the lock, is recorded before the next task is chosen.
        while let Some((t, r, span)) = ctx.finished.pop() {
            record(&mut s, ctx, t, r, span);
        }
        // After an error no task starts; the ones in flight finish in their loops.
        if s.err.is_some() {
            return stop(&mut s, ctx);
        }
        let in_flight = s.in_flight;
        let Some(t) = s.st.pop_startable(in_flight) else {
            return stop(&mut s, ctx);
        };
        let ins = match s.st.inputs(t) {
            Ok(ins) => ins,
            Err(e) => {
                s.err = Some(Error::Task {
                    task: g.describe(t),
                    source: Box::new(e),
                });
                return stop(&mut s, ctx);
            }
        };
        s.in_flight += 1;
        // Ready work beyond the loops running: start more, up to one per thread.
        let more = s.st.ready_len().min(ctx.threads - s.loops.min(ctx.threads));
        s.loops += more;
        drop(s);
        for _ in 0..more {
            scope.spawn(move |sc| guarded(sc, ctx));
        }
        let (r, span) = Span::time(ctx.origin, || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                execute(&g.task(t).kind, ins, ctx.opts.gpu).and_then(|v| ctx.sinks.take(t, v))
            }))
            .unwrap_or_else(|p| Err(Error::Panic(panic_message(&*p))))
        });
        ctx.finished.push((t, r, span));
    }
}

/// Records one finished task: its value in the state (and a progress report), or its
/// error as the run's first.
fn record(s: &mut Shared<'_, '_>, ctx: &Ctx<'_, '_, '_>, t: TaskId, r: Result<Value>, span: Span) {
    s.in_flight -= 1;
    match r {
        Ok(v) if s.err.is_none() => {
            let p = s.st.finish(t, v, ctx.opts.trace.then_some(span));
            if let Some(tx) = &ctx.reports {
                let _ = tx.send(Report::Progress(p));
            }
        }
        Ok(_) => {}
        Err(e) => {
            if s.err.is_none() {
                s.err = Some(Error::Task {
                    task: ctx.g.describe(t),
                    source: Box::new(e),
                });
            }
        }
    }
}
