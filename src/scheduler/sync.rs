//! The synchronous scheduler: the state machine on the calling thread.

use super::state::State;
use super::{RunOptions, execute};
use crate::error::{Error, Result};

pub(super) fn run(st: &mut State<'_>, opts: &RunOptions) -> Result<()> {
    while let Some(t) = st.pop_ready() {
        let ins = st.inputs(t);
        let v = execute(&st.g.task(t).kind, ins).map_err(|e| Error::Task {
            task: st.g.describe(t),
            source: Box::new(e),
        })?;
        let p = st.finish(t, v);
        if let Some(cb) = &opts.progress {
            cb(p);
        }
    }
    debug_assert!(st.is_finished(), "graph has a cycle or an unreachable task");
    Ok(())
}
