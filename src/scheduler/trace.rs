//! A record of one run for profilers: which worker ran which task when, and the bytes
//! held over time, written as a Chrome / Perfetto trace (`chunkwise reduce --trace`).
//!
//! Workers time their own tasks (a monotonic clock from the start of the run) and send
//! the span back with the result; the scheduling thread, which owns the state, appends
//! it with the accounted bytes after the task's output was stored and its inputs
//! released. Descriptions ("reduce-partial nanmean blocks [4, 0, 0] +3") are made once
//! at the end, so tracing costs nothing per task beyond two clock reads and a push.

use crate::error::{Error, Result};
use crate::graph::{TaskGraph, TaskId};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// When and where one task ran (nanoseconds since the run started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Worker thread index (0 for the synchronous scheduler).
    pub worker: u16,
    /// Start.
    pub start_ns: u64,
    /// End.
    pub end_ns: u64,
}

impl Span {
    /// Times `f` on the current worker against the run's start.
    pub(super) fn time<T>(origin: Instant, f: impl FnOnce() -> T) -> (T, Span) {
        let worker = rayon::current_thread_index().unwrap_or(0) as u16;
        let start_ns = origin.elapsed().as_nanos() as u64;
        let v = f();
        let end_ns = origin.elapsed().as_nanos() as u64;
        (
            v,
            Span {
                worker,
                start_ns,
                end_ns,
            },
        )
    }
}

/// One task in a finished trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpan {
    /// Kind and block, as in errors.
    pub name: String,
    /// Kind name (`load`, `reduce-partial`, …).
    pub kind: &'static str,
    /// When and where.
    pub span: Span,
}

/// The trace of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Tasks in the order they finished.
    pub tasks: Vec<TaskSpan>,
    /// `(time ns, accounted bytes)` after each task finished.
    pub memory: Vec<(u64, usize)>,
}

#[derive(Default)]
pub(super) struct TraceBuilder {
    events: Vec<(TaskId, Span, usize)>,
}

impl TraceBuilder {
    pub fn record(&mut self, t: TaskId, span: Span, resident: usize) {
        self.events.push((t, span, resident));
    }

    pub fn finish(self, g: &TaskGraph) -> Trace {
        let tasks = self
            .events
            .iter()
            .map(|&(t, span, _)| TaskSpan {
                name: g.describe(t),
                kind: g.task(t).kind.kind_name(),
                span,
            })
            .collect();
        let memory = self.events.iter().map(|&(_, s, r)| (s.end_ns, r)).collect();
        Trace { tasks, memory }
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

impl Trace {
    /// The trace in Chrome's JSON trace event format (open in Perfetto or
    /// `chrome://tracing`): a track per worker, a slice per task, a memory counter.
    #[must_use]
    pub fn to_chrome_json(&self) -> String {
        let mut s = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        let _ = write!(
            s,
            "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{{\"name\":\"chunkwise\"}}}}"
        );
        let mut workers: Vec<u16> = self.tasks.iter().map(|t| t.span.worker).collect();
        workers.sort_unstable();
        workers.dedup();
        for w in workers {
            let _ = write!(
                s,
                ",\n{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{w},\"args\":{{\"name\":\"worker {w}\"}}}}"
            );
        }
        for t in &self.tasks {
            let _ = write!(
                s,
                ",\n{{\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{:.3},\"dur\":{:.3},\"name\":{},\"cat\":\"{}\"}}",
                t.span.worker,
                t.span.start_ns as f64 / 1e3,
                t.span.end_ns.saturating_sub(t.span.start_ns) as f64 / 1e3,
                json_str(&t.name),
                t.kind
            );
        }
        for &(ns, bytes) in &self.memory {
            let _ = write!(
                s,
                ",\n{{\"ph\":\"C\",\"pid\":1,\"name\":\"accounted bytes\",\"ts\":{:.3},\"args\":{{\"bytes\":{bytes}}}}}",
                ns as f64 / 1e3
            );
        }
        s.push_str("\n]}\n");
        s
    }

    /// Writes [`Trace::to_chrome_json`] to `path` (through a temporary name, renamed
    /// when complete).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn write_chrome(&self, path: &Path) -> Result<()> {
        use crate::io::staging;
        staging::check_target(path, true)?;
        let tmp = staging::temp_sibling(path);
        let written = std::fs::write(&tmp, self.to_chrome_json())
            .map_err(|e| Error::Io {
                path: path.to_path_buf(),
                source: e,
            })
            .and_then(|()| staging::publish(&tmp, path));
        if written.is_err() {
            staging::discard(&tmp);
        }
        written
    }
}
