//! Running reduction tasks on a GPU: the chunk step (blocks uploaded, an optional fused
//! elementwise prologue run as one generated kernel, the block reduced into a partial
//! that stays in device memory) and the combine step over device partials. Only the
//! finished (small) result crosses back to the host; a combine that meets partials on
//! both sides finishes on the host.
//!
//! Each task waits for its own stream before it returns (see `device::cuda`), so a
//! device partial handed to the next task is complete.
//!
//! A task the GPU cannot take — generated inputs (arange, random), reduced axes that
//! are not one run of the block, an empty block, arg-reductions whose flat index would
//! need a block offset, or a step that might not fit under the GPU's memory limit
//! beside what it already holds — returns `None` and runs on the CPU, as the placement
//! rules of DESIGN.md ask: the CPU runs everything.

use super::exec::{block_inputs, finish_reduce, load_slots, partial_shape, recycle};
use crate::chunk::Value;
use crate::device::cpu::eval::InputRef;
use crate::device::cuda::{CudaDevice, DeviceBuffer, DevicePartial, codegen, reduce_view};
use crate::error::{Error, Result};
use crate::graph::{InlineLoad, ReduceNode};
use crate::ops::Program;
use std::sync::Arc;

/// Whether block `idx` of the node's grid can be reduced on the GPU, and with which
/// index base (arg ops).
fn plan_block(node: &ReduceNode, pre: Option<&Program>, idx: &[usize]) -> Option<i64> {
    let g = &node.in_grid;
    let shape = g.block_shape(idx);
    let spec = &node.spec;
    if shape.contains(&0) || reduce_view(&shape, &spec.axes).is_none() {
        return None;
    }
    if pre.is_some_and(|p| codegen::fused_kernel(p).is_err()) {
        return None;
    }
    if !spec.op.is_arg() {
        return Some(0);
    }
    let gshape = g.shape();
    let offset = g.block_offset(idx);
    // The CPU's index convention (`ArgInfo`): along the one reduced axis, or flat over
    // the whole array — which a kernel gets right only when the block is the array.
    if gshape.len() == 1 {
        Some(offset[0] as i64)
    } else if spec.axes.len() == 1 {
        Some(offset[spec.axes[0]] as i64)
    } else if shape == gshape {
        Some(0)
    } else {
        None
    }
}

/// The chunk step of a reduction group on `dev`; `None` when the GPU does not take it.
pub(super) fn reduce_partial(
    gpu: super::GpuUse,
    node: &ReduceNode,
    pre: Option<&Program>,
    blocks: &[usize],
    deps: &[InputRef<'_>],
    slots: Option<&[Option<InlineLoad>]>,
    fin: bool,
) -> Result<Option<Value>> {
    let g = &node.in_grid;
    let spec = &node.spec;
    let bases: Option<Vec<i64>> = blocks.iter().map(|&b| plan_block(node, pre, &g.unlinear(b))).collect();
    let Some(bases) = bases else { return Ok(None) };
    let bytes: usize = blocks
        .iter()
        .map(|&b| g.block_shape(&g.unlinear(b)).iter().product::<usize>())
        .sum::<usize>()
        * node.in_dtype.size();
    if !gpu.every_step && !super::placement::chunk_step_on_gpu(spec.op, pre.is_some(), bytes) {
        return Ok(None);
    }
    // Groups go to the GPUs in turn, by position (the same GPU for a group in every run).
    let dev = match gpu.count {
        0 | 1 => gpu.device,
        n => CudaDevice::new(gpu.device.ordinal() + (blocks[0] / blocks.len().max(1)) % n)?,
    };
    let total = slots.map_or(deps.len(), <[_]>::len);
    if blocks.is_empty() || !total.is_multiple_of(blocks.len()) {
        return Err(Error::Unsupported("reduction group and inputs disagree".into()));
    }
    let per = total / blocks.len();
    // The GPU's own budget: a step that may not fit beside what the device holds (its
    // inputs, a fused result and the partial, each at most a block of f64) is left to
    // the CPU, which always takes it, rather than failing at an allocation.
    let largest = blocks
        .iter()
        .map(|&b| g.block_shape(&g.unlinear(b)).iter().product::<usize>())
        .max()
        .unwrap_or(0);
    let m = dev.memory()?;
    if m.live.saturating_add(largest * 8 * (per + 2)) > m.limit {
        return Ok(None);
    }
    let mut next_dep = deps.iter();
    let mut acc: Option<DevicePartial> = None;
    let mut pshape = Vec::new();
    for (k, &b) in blocks.iter().enumerate() {
        let idx = g.unlinear(b);
        let shape = g.block_shape(&idx);
        let own = slots.map(|s| &s[k * per..(k + 1) * per]);
        let loaded = load_slots(own)?;
        let mut from_load = loaded.iter();
        // Upload this block's inputs (a copy from pageable memory returns once the
        // host buffer has been read, so inline buffers are recycled right after).
        let up: Vec<(DeviceBuffer, Vec<usize>)> = block_inputs(own, &mut from_load, &mut next_dep, per)?
            .into_iter()
            .map(|r| Ok((dev.upload(r.data)?, r.shape.to_vec())))
            .collect::<Result<_>>()?;
        loaded.into_iter().for_each(recycle);
        let fused;
        let x: &DeviceBuffer = match pre {
            Some(p) => {
                let ins: Vec<(&DeviceBuffer, &[usize])> = up.iter().map(|(d, s)| (d, s.as_slice())).collect();
                fused = dev.fused(p, &ins, &shape)?;
                &fused
            }
            None => {
                &up.first()
                    .ok_or_else(|| Error::Unsupported("reduction without input".into()))?
                    .0
            }
        };
        let p = dev.reduce(spec.op, x, &shape, &spec.axes, bases[k])?;
        match acc.as_mut() {
            None => acc = Some(p),
            Some(a) => dev.combine(a, &p)?,
        }
        pshape = partial_shape(&shape, &spec.axes);
    }
    let p = acc.ok_or_else(|| Error::Unsupported("empty reduction group".into()))?;
    if fin {
        return finish_reduce(node, p.to_host()?, pshape, true).map(Some);
    }
    // The partial is complete before another task (on another stream) sees it.
    dev.synchronize()?;
    Ok(Some(Value::DevicePartial(p, pshape)))
}

/// The combine step when every partial is on one GPU: combined there, downloaded
/// only when this is the last step. The inputs come back (`Err`) when some partial is
/// on the host or on another GPU, or the first is shared: the caller then merges on
/// the CPU.
pub(super) fn combine(
    node: &ReduceNode,
    mut inputs: Vec<Arc<Value>>,
    fin: bool,
) -> Result<std::result::Result<Value, Vec<Arc<Value>>>> {
    let ordinal = |v: &Value| match v {
        Value::DevicePartial(p, _) => Some(p.ordinal()),
        _ => None,
    };
    let Some(first) = inputs.first().and_then(|v| ordinal(v)) else {
        return Ok(Err(inputs));
    };
    if inputs.iter().any(|v| ordinal(v) != Some(first)) || Arc::strong_count(&inputs[0]) != 1 {
        return Ok(Err(inputs));
    }
    let dev = CudaDevice::new(first)?;
    let rest = inputs.split_off(1);
    let first = inputs
        .pop()
        .ok_or_else(|| Error::Unsupported("combine without partials".into()))?;
    let Ok(Value::DevicePartial(mut acc, pshape)) = Arc::try_unwrap(first) else {
        return Err(Error::Unsupported(
            "a device partial changed hands during a combine".into(),
        ));
    };
    for v in &rest {
        let Value::DevicePartial(p, _) = &**v else {
            return Err(Error::Unsupported("combine of a non-partial".into()));
        };
        dev.combine(&mut acc, p)?;
    }
    if fin {
        return finish_reduce(node, acc.to_host()?, pshape, true).map(Ok);
    }
    // Complete before it is handed on, and before `rest` is freed.
    dev.synchronize()?;
    Ok(Ok(Value::DevicePartial(acc, pshape)))
}

/// A host copy of a value for a CPU task: device partials are downloaded.
pub(super) fn to_host(v: Arc<Value>) -> Result<Arc<Value>> {
    match &*v {
        Value::DevicePartial(p, s) => Ok(Arc::new(Value::Partial(p.to_host()?, s.clone()))),
        _ => Ok(v),
    }
}
