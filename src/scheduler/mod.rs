//! Running a task graph: ordering, refcounted release, workers.
//!
//! ## The state machine
//!
//! Every task moves through
//!
//! ```text
//!   waiting ──(last dependency finished)──► ready ──(popped by priority)──► running
//!      ▲                                                                     │
//!      └─ initial state; tasks with no dependencies start ready               ▼
//!                     released ◄──(last dependent finished, not an output)── done
//! ```
//!
//! - **waiting**: `missing[t]` counts unfinished dependencies; when it reaches 0 the task
//!   is pushed on the ready heap.
//! - **ready**: a min-heap keyed by the static priority of [`order`](crate::graph::order)
//!   (a DFS post-order): the task that completes the current branch runs first, so
//!   intermediates are consumed soon after they are produced.
//! - **running**: at most one task per thread. The threaded scheduler runs worker loops
//!   on a rayon pool, at most one per thread; a loop that finishes a task records it and
//!   pops its next one under the state's one lock, so no other thread sits between two
//!   tasks, and it stops when nothing can start (`src/scheduler/threaded.rs`).
//! - **done**: the output is stored as an `Arc<Value>` and its bytes are added to the
//!   resident count; each dependent's `missing` drops by one.
//! - **released**: `pending[t]` counts dependents that have not finished; when it hits 0
//!   and the task is not an output, the value is dropped at once and its bytes leave the
//!   resident count (the engine's own memory accounting: deterministic, not RSS).
//!
//! `compute()` of a multi-block array writes each output block into the result on the
//! worker that made it, as soon as its task returns (`src/scheduler/sink.rs`), and keeps only a
//! placeholder with its byte count when nothing else reads the block: no second copy
//! of the result is assembled after the run.
//!
//! ## The memory budget
//!
//! With a limit ([`RunOptions::memory_limit`]), a ready task starts only when the
//! accounted bytes, plus the output estimates of the tasks running, plus its own output
//! estimate and inline reads, stay within it; otherwise the scheduler looks further down
//! the ready heap for one that fits (a combine or a reduction step that frees memory
//! usually does) and else waits for a running task to finish. Loads and other root tasks
//! are therefore withheld while memory is full: no root-task overproduction. See
//! [`budget`] for the plan-time check that makes a stall impossible. A task ahead of
//! the one-worker order (started while an earlier one is still to come) must also fit
//! the slack between the budget and that order's peak (`src/scheduler/ahead.rs`): else
//! workers that run ahead while one is held up could fill the budget with blocks that
//! cannot be used yet, and the held-up branch would have to run over budget.
//!
//! A task error aborts the run: no new task starts, tasks in flight are drained, and
//! the error is returned wrapped with the failing task's kind and block
//! ([`Error::Task`](crate::Error::Task)). A panic in a task is caught and reported the
//! same way.
//!
//! The synchronous scheduler runs the same state machine on the caller's thread, one
//! task at a time, in priority order: the reference for debugging.
//!
//! ## Several devices
//!
//! With host devices ([`RunOptions::hosts`], `--device host:N`) the state also places
//! each task as it starts, copies inputs held elsewhere to its device, and keeps
//! per-device residency, byte counts and budgets ([`hosts`]). With a GPU
//! ([`RunOptions::gpu`]) a reduction's chunk and combine steps run there when it takes
//! them ([`execute`]); their partials stay in device memory until a combine or the
//! final step needs them on the host.

mod ahead;
pub mod budget;
mod exec;
mod gpu_exec;
pub mod hosts;
pub mod placement;
pub(crate) mod sink;
mod state;
mod sync;
mod threaded;
pub mod trace;

pub use exec::execute;
pub use hosts::{DeviceStats, HostDevices};
pub use trace::Trace;

use crate::chunk::Value;
use crate::error::Result;
use crate::graph::TaskGraph;
use std::sync::Arc;

/// Which scheduler runs a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SchedulerKind {
    /// One task at a time on the calling thread.
    Sync,
    /// A rayon pool with one task in flight per thread.
    #[default]
    Threaded,
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Tasks executed.
    pub tasks: usize,
    /// Highest number of bytes held at once by live task outputs and the blocks running
    /// tasks read from storage themselves.
    pub peak_bytes: usize,
    /// Bytes produced (and read from storage) by all tasks together.
    pub total_bytes: usize,
    /// Bytes read from storage (decoded), by Load tasks and inline reads.
    pub bytes_read: usize,
    /// Tasks started although they did not fit the memory budget, because nothing was
    /// running and nothing else fitted (0 when the budget was kept).
    pub over_budget: usize,
    /// The run's trace, when [`RunOptions::trace`] asked for one.
    pub trace: Option<Arc<Trace>>,
    /// Copies of values between host devices ([`RunOptions::hosts`]; 0 with one device).
    pub transfers: usize,
    /// Bytes those copies moved.
    pub transferred_bytes: usize,
    /// What each host device did, by device number (empty without host devices).
    pub devices: Vec<DeviceStats>,
}

/// A progress report, sent after every finished task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Tasks finished so far.
    pub done: usize,
    /// Tasks in the graph.
    pub total: usize,
    /// Bytes held by live outputs now.
    pub resident_bytes: usize,
    /// Bytes read from storage so far (decoded).
    pub bytes_read: usize,
}

/// A progress callback.
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// How to run a graph.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Which scheduler.
    pub kind: SchedulerKind,
    /// Called after each finished task, on the scheduling thread.
    pub progress: Option<Arc<ProgressFn>>,
    /// The memory budget in bytes (`None`: unlimited). Check the graph with
    /// [`budget::check`] first, or a task that alone exceeds it runs over budget.
    pub memory_limit: Option<usize>,
    /// Record a [`Trace`] in the run's stats.
    pub trace: bool,
    /// The GPUs that take reduction steps (`None`: everything on the CPU).
    pub gpu: Option<GpuUse>,
    /// Split the CPU into several host devices ([`hosts`]); `None`: one.
    pub hosts: Option<HostDevices>,
}

/// The GPUs and how the scheduler uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuUse {
    /// The first GPU used.
    pub device: crate::device::cuda::CudaDevice,
    /// How many GPUs, from `device`'s ordinal on: chunk steps are spread over them by
    /// their group's position, combines run on the GPU holding their partials (on the
    /// host when they sit on different GPUs).
    pub count: usize,
    /// Every chunk step it can take (`--device cuda`), or only those the placement
    /// policy finds cheaper there (`--device auto`: [`placement::chunk_step_on_gpu`]).
    pub every_step: bool,
}

/// Output values of a run: for each graph output, its tasks' values in order.
pub type Outputs = Vec<Vec<Arc<Value>>>;

/// Runs `g` and returns the values of its outputs.
///
/// # Errors
/// The first task error, wrapped with the task's description.
pub fn run(g: &TaskGraph, opts: &RunOptions, pool: &rayon::ThreadPool) -> Result<(Outputs, RunStats)> {
    run_sunk(g, opts, pool, &sink::Sinks::none())
}

/// [`run`], copying the blocks of the outputs that have a sink into their arrays as
/// they finish (see [`sink`]); those outputs' values are [`Value::Written`]
/// placeholders where nothing else read them.
pub(crate) fn run_sunk(
    g: &TaskGraph,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    sinks: &sink::Sinks,
) -> Result<(Outputs, RunStats)> {
    let mut st = state::State::new(g, opts);
    let r = match opts.kind {
        SchedulerKind::Sync => sync::run(&mut st, opts, sinks),
        SchedulerKind::Threaded => threaded::run(&mut st, opts, pool, sinks),
    };
    // Accumulators kept for reuse within the run are not held after it.
    crate::device::cpu::reduce::pool::clear();
    r?;
    Ok(st.into_outputs())
}
