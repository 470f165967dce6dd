//! The threaded scheduler: `threads` tasks in flight on a rayon pool.
//!
//! The calling thread owns the state; workers get a task's kind and its input values,
//! run it, and send `(task, result)` back over one crossbeam channel. Keeping exactly as
//! many tasks in flight as there are threads (rather than spawning everything ready)
//! is what makes the priority order hold: the next task is chosen only when a worker
//! is free, with the most recent knowledge of what finished. The calling thread polls
//! the channel briefly before it blocks: on graphs of trivial tasks the result is
//! usually there within a microsecond, and a sleep and wake-up per task was a fifth of
//! the per-task cost (`chunkwise bench scheduler-fanin`: 1.6 → 1.25 µs per task).

use super::state::State;
use super::trace::Span;
use super::{RunOptions, execute};
use crate::chunk::Value;
use crate::error::{Error, Result};
use crate::graph::TaskId;
use std::panic::AssertUnwindSafe;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Polls of the result channel before the scheduling thread blocks on it.
const SPIN: usize = 200;

pub(super) fn run(
    st: &mut State<'_>,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    sinks: &super::sink::Sinks,
) -> Result<()> {
    let slots = pool.current_num_threads().max(1);
    let (tx, rx) = crossbeam::channel::unbounded::<(TaskId, Result<Value>, Span)>();
    let origin = std::time::Instant::now();
    let g = st.g;
    let gpu = opts.gpu;
    let mut first_err: Option<Error> = None;
    pool.in_place_scope(|scope| {
        let mut in_flight = 0usize;
        loop {
            while first_err.is_none() && in_flight < slots {
                let Some(t) = st.pop_startable(in_flight) else { break };
                let ins = match st.inputs(t) {
                    Ok(ins) => ins,
                    Err(e) => {
                        first_err = Some(Error::Task {
                            task: g.describe(t),
                            source: Box::new(e),
                        });
                        break;
                    }
                };
                let tx = tx.clone();
                in_flight += 1;
                scope.spawn(move |_| {
                    let (r, span) = Span::time(origin, || {
                        std::panic::catch_unwind(AssertUnwindSafe(|| {
                            execute(&g.task(t).kind, ins, gpu).and_then(|v| sinks.take(t, v))
                        }))
                        .unwrap_or_else(|p| Err(Error::Panic(panic_message(&*p))))
                    });
                    let _ = tx.send((t, r, span));
                });
            }
            if in_flight == 0 {
                break;
            }
            // A trivial task finishes in well under a microsecond: look for its result
            // briefly before blocking, which costs a sleep and a wake-up per task.
            let mut got = None;
            for _ in 0..SPIN {
                if let Ok(m) = rx.try_recv() {
                    got = Some(m);
                    break;
                }
                std::hint::spin_loop();
            }
            let Some((t, r, span)) = got.or_else(|| rx.recv().ok()) else {
                break;
            };
            in_flight -= 1;
            match r {
                Ok(v) if first_err.is_none() => {
                    let p = st.finish(t, v, opts.trace.then_some(span));
                    if let Some(cb) = &opts.progress {
                        cb(p);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(Error::Task {
                            task: g.describe(t),
                            source: Box::new(e),
                        });
                    }
                }
            }
        }
    });
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
