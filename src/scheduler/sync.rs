//! The synchronous scheduler: the state machine on the calling thread.

use super::state::State;
use super::trace::Span;
use super::{RunOptions, execute};
use crate::error::{Error, Result};

pub(super) fn run(st: &mut State<'_>, opts: &RunOptions, sinks: &super::sink::Sinks) -> Result<()> {
    let origin = std::time::Instant::now();
    while let Some(t) = st.pop_startable(0) {
        let ins = st.inputs(t).map_err(|e| Error::Task {
            task: st.g.describe(t),
            source: Box::new(e),
        })?;
        let (r, span) = Span::time(origin, || {
            execute(&st.g.task(t).kind, ins, opts.gpu).and_then(|v| sinks.take(t, v))
        });
        let v = r.map_err(|e| Error::Task {
            task: st.g.describe(t),
            source: Box::new(e),
        })?;
        let p = st.finish(t, v, opts.trace.then_some(span));
        if let Some(cb) = &opts.progress {
            cb(p);
        }
    }
    debug_assert!(st.is_finished(), "graph has a cycle or an unreachable task");
    Ok(())
}
