//! Task graphs: one task per output block, in an arena with `Copy` ids.
//!
//! Lowering ([`lower`]) turns expressions into a [`TaskGraph`]; the optimizer
//! (`crate::optimize`) rewrites it; [`order`] assigns the static priorities the
//! scheduler runs it by; [`dot`] draws it.
//!
//! Representation, kept compact for graphs of millions of tasks: tasks live in one
//! `Vec`, dependencies in one flat `Vec<TaskId>` (each task owns a range of it), and the
//! per-node parameters a task needs (program, grid, reduction spec) are shared through
//! `Arc`s, so a task is a tag, a pointer and a block number. Tasks are stored in a
//! topological order: every dependency has a smaller id than its dependents.

pub mod dot;
pub mod lower;
pub mod order;
pub mod summary;

use crate::chunk::Value;
use crate::dtype::DType;
use crate::error::Result;
use crate::grid::ChunkGrid;
use crate::io::ChunkSource;
use crate::ops::{Program, ReduceSpec};
use std::sync::Arc;

/// The id of a task in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u32);

impl TaskId {
    /// As an index.
    #[must_use]
    pub fn ix(self) -> usize {
        self.0 as usize
    }
}

/// A reduction node's parameters, shared by its tasks.
///
/// The chunk step folds a *group* of input blocks — up to `fan` consecutive blocks along
/// each reduced axis, split as evenly as the count allows — into one partial, so
/// partials (which can be as large as a block's kept extent, 16 bytes per element for a
/// mean) are written and merged `fan^k` times less often. Groups are numbered in C order over [`ReduceNode::group_counts`].
#[derive(Debug)]
pub struct ReduceNode {
    /// The reduction.
    pub spec: ReduceSpec,
    /// Grid of the reduced array.
    pub in_grid: ChunkGrid,
    /// Its dtype.
    pub in_dtype: DType,
    /// The result dtype.
    pub out_dtype: DType,
    /// Blocks per group (and partials per combine) along each reduced axis.
    pub fan: usize,
}

impl ReduceNode {
    /// Number of chunk-step groups along each axis.
    #[must_use]
    pub fn group_counts(&self) -> Vec<usize> {
        self.in_grid
            .nblocks()
            .iter()
            .enumerate()
            .map(|(a, &n)| {
                if self.spec.axes.contains(&a) {
                    n.div_ceil(self.fan)
                } else {
                    n
                }
            })
            .collect()
    }

    /// The input blocks (C-order block numbers) of chunk-step group `g`, in C order.
    #[must_use]
    pub fn group_blocks(&self, g: usize) -> Vec<usize> {
        let counts = self.group_counts();
        let nb = self.in_grid.nblocks();
        let mut rem = g;
        let mut j = vec![0; counts.len()];
        for a in (0..counts.len()).rev() {
            j[a] = rem % counts[a];
            rem /= counts[a];
        }
        let spans: Vec<(usize, usize)> = (0..nb.len())
            .map(|a| {
                if self.spec.axes.contains(&a) {
                    balanced_span(nb[a], counts[a], j[a])
                } else {
                    (j[a], j[a] + 1)
                }
            })
            .collect();
        let lens: Vec<usize> = spans.iter().map(|(s, e)| e - s).collect();
        crate::grid::IndexIter::new(&lens)
            .map(|o| {
                let idx: Vec<usize> = o.iter().zip(&spans).map(|(&o, (s, _))| s + o).collect();
                self.in_grid.linear(&idx)
            })
            .collect()
    }
}

/// Blocks `start..end` of group `j` when `n` blocks are split into `groups` consecutive
/// groups whose sizes differ by at most one, the larger ones first.
///
/// Why not `fan` blocks per group and the rest in the last: the chunk steps are the
/// long tasks of a reduction, and a short last group leaves workers idle at the end
/// while others finish full groups. The medium field's 37 time chunks in groups of 4
/// are nine groups of 4 and one of 1: on two workers one worker folds 20 blocks while
/// the other folds 17 and then waits (in `--trace`s of the Zarr v2 nanmean, up to
/// 60 ms of a ~250 ms run idle on one worker); as 7 × 4 + 3 × 3 the workers fold 19 and 18. The
/// number of groups, and so of partials and merges, is the same. Measured (`chunkwise
/// reduce` of that field, 15 alternating rounds): the best run 0.239 → 0.230 s, the
/// median unchanged (0.250 → 0.249 s): on this VM a group's time varies by more than
/// a block from run to run, which no static split removes.
fn balanced_span(n: usize, groups: usize, j: usize) -> (usize, usize) {
    let (base, extra) = (n / groups, n % groups);
    let start = j * base + j.min(extra);
    (start, start + base + usize::from(j < extra))
}

/// A reduction tree over blocks that are in memory already, as lowering built it:
/// which blocks each chunk step stacks, and the order partials are merged in. A split
/// reduction ([`TaskKind::ReduceSpan`]) replays it for its columns, so every column
/// gets the merges, in the order, of the unsplit graph (the same bits).
#[derive(Debug)]
pub enum SplitTree {
    /// A chunk step: these blocks, stacked as rows, in order.
    Group(Vec<InlineLoad>),
    /// Partials merged in this order (a combine task: the first is the accumulator).
    Merge(Vec<SplitTree>),
}

/// A reduction of in-memory blocks split by columns (see `crate::optimize::SplitColumns`).
#[derive(Debug)]
pub struct SplitNode {
    /// The reduction.
    pub node: Arc<ReduceNode>,
    /// The tree every span replays.
    pub tree: SplitTree,
    /// Kept elements per row: the length of the output block.
    pub cols: usize,
    /// Columns per span (a multiple of the CPU kernels' tile); the last span is shorter.
    pub span_cols: usize,
    /// The output block's partial shape (reduced axes at length 1).
    pub pshape: Vec<usize>,
}

impl SplitNode {
    /// Number of spans.
    #[must_use]
    pub fn spans(&self) -> usize {
        self.cols.div_ceil(self.span_cols)
    }

    /// The columns of span `k`.
    #[must_use]
    pub fn span(&self, k: usize) -> std::ops::Range<usize> {
        let s = k * self.span_cols;
        s..(s + self.span_cols).min(self.cols)
    }

    /// Bytes span `k` reads: its columns of every row of every block.
    #[must_use]
    pub fn read_bytes(&self, k: usize) -> usize {
        fn rows(t: &SplitTree, cols: usize) -> usize {
            match t {
                SplitTree::Group(loads) => loads
                    .iter()
                    .map(|l| {
                        l.grid
                            .block_shape(&l.grid.unlinear(l.block as usize))
                            .iter()
                            .product::<usize>()
                            / cols
                    })
                    .sum(),
                SplitTree::Merge(ts) => ts.iter().map(|t| rows(t, cols)).sum(),
            }
        }
        rows(&self.tree, self.cols.max(1)) * self.span(k).len() * self.node.in_dtype.size()
    }
}

/// A rechunk node's parameters.
#[derive(Debug)]
pub struct RechunkNode {
    /// Input grid.
    pub in_grid: ChunkGrid,
    /// Output grid.
    pub out_grid: ChunkGrid,
    /// Per axis, per output block: `(input block, range in output block, range in input block)`.
    pub overlaps: Vec<Vec<Vec<crate::grid::Overlap>>>,
    /// dtype.
    pub dtype: DType,
}

/// A user closure run as a task (custom graphs, `crate::delayed`).
pub type CustomFn = dyn Fn(&[&Value]) -> Result<Value> + Send + Sync;

/// A custom task's closure and what it depends on.
pub struct CustomNode {
    /// Name for graphs and errors.
    pub name: String,
    /// The work.
    pub f: Box<CustomFn>,
    /// Its inputs, in the order the closure receives them.
    pub deps: Vec<CustomDep>,
}

impl std::fmt::Debug for CustomNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomNode({})", self.name)
    }
}

/// An input of a custom task.
#[derive(Debug, Clone)]
pub enum CustomDep {
    /// Another custom task.
    Node(Arc<CustomNode>),
    /// One block of an array (C-order block number).
    Block(crate::array::Array, usize),
}

/// A block read from storage by the task that consumes it, right before it is folded
/// (so a reduction holds one decoded block at a time, in a reused buffer).
#[derive(Debug, Clone)]
pub struct InlineLoad {
    /// Where from.
    pub source: Arc<dyn ChunkSource>,
    /// The array's grid.
    pub grid: Arc<ChunkGrid>,
    /// Block number (C order).
    pub block: u32,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// Read a block from storage.
    Load {
        /// Where from.
        source: Arc<dyn ChunkSource>,
        /// The array's grid.
        grid: Arc<ChunkGrid>,
        /// Block number (C order).
        block: u32,
    },
    /// Evaluate an elementwise program; dependencies are its input slots in order.
    Map {
        /// The (possibly fused) program.
        program: Arc<Program>,
        /// The output grid.
        grid: Arc<ChunkGrid>,
        /// Block number.
        block: u32,
    },
    /// The chunk step of a reduction over one group of input blocks, optionally through a
    /// fused program, optionally finalising. Dependencies: for each block of the group in
    /// order, its input chunk (no program) or the program's inputs (in slot order).
    ReducePartial {
        /// The reduction.
        node: Arc<ReduceNode>,
        /// A fused elementwise program producing each block.
        pre: Option<Arc<Program>>,
        /// Group number (see [`ReduceNode::group_blocks`]).
        block: u32,
        /// Also run the aggregate step (only one block along the reduced axes).
        finalize: bool,
        /// Storage reads done inside this task (set by the `inline-loads` rule): one
        /// entry per input slot of every block of the group, in order; `None` slots
        /// are fed by the dependencies, in order.
        inline: Option<Arc<[Option<InlineLoad>]>>,
    },
    /// Merge partials (dependencies, in order), optionally finalising.
    ReduceCombine {
        /// The reduction.
        node: Arc<ReduceNode>,
        /// Run the aggregate step (last tree level).
        finalize: bool,
    },
    /// The finished reduction of columns `span` of a [`SplitNode`]'s output block: its
    /// whole tree replayed over those columns, every block read inline (shared, no
    /// copy). No dependencies.
    ReduceSpan {
        /// The split reduction.
        split: Arc<SplitNode>,
        /// Span number.
        span: u32,
    },
    /// A split reduction's output block, joined from its spans (dependencies, in order).
    ReduceJoin {
        /// The split reduction.
        split: Arc<SplitNode>,
    },
    /// Assemble an output block from overlapping input blocks.
    Rechunk {
        /// The rechunk.
        node: Arc<RechunkNode>,
        /// Output block number.
        block: u32,
    },
    /// A user closure.
    Custom {
        /// The closure.
        node: Arc<CustomNode>,
    },
    /// A [`BlockOp`](crate::expr::BlockOp) output block; dependencies as its `deps`.
    Block {
        /// The operation.
        op: Arc<dyn crate::expr::BlockOp>,
        /// Output block number.
        block: u32,
    },
}

impl TaskKind {
    /// Bytes of blocks this task reads from storage itself (inlined loads): the most held
    /// at once (one block at a time) and the total read.
    #[must_use]
    pub fn inline_bytes(&self) -> (usize, usize) {
        if let TaskKind::ReduceSpan { split, span } = self {
            // Shared reads: nothing is allocated for them; what is read is the span of
            // every row.
            return (0, split.read_bytes(*span as usize));
        }
        let TaskKind::ReducePartial {
            inline: Some(slots), ..
        } = self
        else {
            return (0, 0);
        };
        slots.iter().flatten().fold((0, 0), |(most, sum), l| {
            let idx = l.grid.unlinear(l.block as usize);
            let b = l.grid.block_shape(&idx).iter().product::<usize>() * l.source.dtype().size();
            (most.max(b), sum + b)
        })
    }

    /// A short kind name (`"map"`, `"reduce-partial"`).
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            TaskKind::Load { .. } => "load",
            TaskKind::Map { .. } => "map",
            TaskKind::ReducePartial { .. } => "reduce-partial",
            TaskKind::ReduceCombine { .. } => "reduce-combine",
            TaskKind::ReduceSpan { .. } => "reduce-span",
            TaskKind::ReduceJoin { .. } => "reduce-join",
            TaskKind::Rechunk { .. } => "rechunk",
            TaskKind::Custom { .. } => "custom",
            TaskKind::Block { .. } => "block",
        }
    }
}

/// One task: what it does, where its dependencies are, how big its output is.
#[derive(Debug, Clone)]
pub struct Task {
    /// The work.
    pub kind: TaskKind,
    deps: (u32, u32),
    /// Estimated bytes of the output.
    pub nbytes: u64,
}

/// What the caller asked for.
#[derive(Debug, Clone)]
pub enum Output {
    /// An array: one task per block, C order.
    Array {
        /// Its grid.
        grid: ChunkGrid,
        /// Its dtype.
        dtype: DType,
        /// Block tasks.
        tasks: Vec<TaskId>,
    },
    /// A single custom task.
    Task(TaskId),
}

impl Output {
    /// The same output with task ids renumbered through `map` (old id → new id), for
    /// rewrites that rebuild the graph.
    #[must_use]
    pub fn remapped(&self, map: &[u32]) -> Output {
        match self {
            Output::Array { grid, dtype, tasks } => Output::Array {
                grid: grid.clone(),
                dtype: *dtype,
                tasks: tasks.iter().map(|t| TaskId(map[t.ix()])).collect(),
            },
            Output::Task(t) => Output::Task(TaskId(map[t.ix()])),
        }
    }

    /// The tasks that produce this output.
    #[must_use]
    pub fn tasks(&self) -> &[TaskId] {
        match self {
            Output::Array { tasks, .. } => tasks,
            Output::Task(t) => std::slice::from_ref(t),
        }
    }
}

/// A graph of tasks with its requested outputs.
#[derive(Debug, Default, Clone)]
pub struct TaskGraph {
    tasks: Vec<Task>,
    deps: Vec<TaskId>,
    /// What to return.
    pub outputs: Vec<Output>,
}

impl TaskGraph {
    /// An empty graph.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a task after its dependencies; returns its id.
    ///
    /// # Panics
    /// When a dependency does not exist yet (tasks are added in topological order).
    pub fn push(&mut self, kind: TaskKind, deps: &[TaskId], nbytes: u64) -> TaskId {
        let id = TaskId(self.tasks.len() as u32);
        assert!(
            deps.iter().all(|d| d.0 < id.0),
            "dependencies must precede their dependents"
        );
        let start = self.deps.len() as u32;
        self.deps.extend_from_slice(deps);
        self.tasks.push(Task {
            kind,
            deps: (start, deps.len() as u32),
            nbytes,
        });
        id
    }

    /// Number of tasks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when there is no task.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// A task.
    #[must_use]
    pub fn task(&self, t: TaskId) -> &Task {
        &self.tasks[t.ix()]
    }

    /// All tasks, by id.
    #[must_use]
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The dependencies of a task, in input order.
    #[must_use]
    pub fn deps(&self, t: TaskId) -> &[TaskId] {
        let (s, n) = self.tasks[t.ix()].deps;
        &self.deps[s as usize..(s + n) as usize]
    }

    /// Dependents of every task (CSR: `offsets[t]..offsets[t+1]` index into `list`).
    #[must_use]
    pub fn dependents(&self) -> (Vec<u32>, Vec<TaskId>) {
        let n = self.tasks.len();
        let mut count = vec![0u32; n + 1];
        for d in &self.deps {
            count[d.ix() + 1] += 1;
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut list = vec![TaskId(0); self.deps.len()];
        for t in 0..n {
            for d in self.deps(TaskId(t as u32)) {
                let slot = &mut fill[d.ix()];
                list[*slot as usize] = TaskId(t as u32);
                *slot += 1;
            }
        }
        (count, list)
    }

    /// Which tasks are outputs.
    #[must_use]
    pub fn output_mask(&self) -> Vec<bool> {
        let mut m = vec![false; self.tasks.len()];
        for o in &self.outputs {
            for t in o.tasks() {
                m[t.ix()] = true;
            }
        }
        m
    }

    /// A new graph of the tasks with `keep[t]`, each with `kinds_deps(t)` replaced when
    /// given; ids are renumbered in order, outputs remapped.
    pub(crate) fn rebuild(
        &self,
        keep: &[bool],
        mut replace: impl FnMut(TaskId) -> Option<(TaskKind, Vec<TaskId>)>,
    ) -> TaskGraph {
        self.rebuild_with(keep, |t, _, map| {
            replace(t).map(|(kind, deps)| (kind, deps.iter().map(|d| TaskId(map[d.ix()])).collect()))
        })
    }

    /// [`TaskGraph::rebuild`] for rewrites that add tasks: `replace(t, new, map)` may push
    /// tasks into the new graph first (their dependencies are new ids; `map` takes an
    /// old id to its new one, for tasks already rebuilt) and returns `t`'s replacement
    /// with dependencies as new ids.
    pub(crate) fn rebuild_with(
        &self,
        keep: &[bool],
        mut replace: impl FnMut(TaskId, &mut TaskGraph, &[u32]) -> Option<(TaskKind, Vec<TaskId>)>,
    ) -> TaskGraph {
        let mut map = vec![u32::MAX; self.tasks.len()];
        let mut g = TaskGraph::new();
        for (i, t) in self.tasks.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            let id = TaskId(i as u32);
            let (kind, deps) = match replace(id, &mut g, &map) {
                Some(r) => r,
                None => {
                    let deps = self.deps(id).iter().map(|d| TaskId(map[d.ix()])).collect();
                    (t.kind.clone(), deps)
                }
            };
            map[i] = g.push(kind, &deps, t.nbytes).0;
        }
        g.outputs = self.outputs.iter().map(|o| o.remapped(&map)).collect();
        g
    }

    /// A one-line description of a task for errors and traces
    /// (`reduce-partial nanmean block [3, 0, 0]`).
    #[must_use]
    pub fn describe(&self, t: TaskId) -> String {
        match &self.task(t).kind {
            TaskKind::Load { source, grid, block } => {
                format!("load {} block {:?}", source.name(), grid.unlinear(*block as usize))
            }
            TaskKind::Map { program, grid, block } => {
                format!("map {} block {:?}", program.describe(), grid.unlinear(*block as usize))
            }
            TaskKind::ReducePartial { node, block, .. } => {
                let blocks = node.group_blocks(*block as usize);
                let first = node.in_grid.unlinear(blocks[0]);
                if blocks.len() == 1 {
                    format!("reduce-partial {} block {first:?}", node.spec.op.name())
                } else {
                    format!(
                        "reduce-partial {} blocks {first:?} +{}",
                        node.spec.op.name(),
                        blocks.len() - 1
                    )
                }
            }
            TaskKind::ReduceCombine { node, .. } => format!("reduce-combine {} (task {})", node.spec.op.name(), t.0),
            TaskKind::ReduceSpan { split, span } => format!(
                "reduce-span {} columns {:?} (task {})",
                split.node.spec.op.name(),
                split.span(*span as usize),
                t.0
            ),
            TaskKind::ReduceJoin { split } => format!("reduce-join {} (task {})", split.node.spec.op.name(), t.0),
            TaskKind::Rechunk { node, block } => format!("rechunk block {:?}", node.out_grid.unlinear(*block as usize)),
            TaskKind::Custom { node } => format!("custom {}", node.name),
            TaskKind::Block { op, block } => format!("{} block {block}", op.name()),
        }
    }

    /// Bytes of graph metadata (tasks and dependency lists, not shared node data).
    #[must_use]
    pub fn metadata_bytes(&self) -> usize {
        self.tasks.capacity() * std::mem::size_of::<Task>() + self.deps.capacity() * std::mem::size_of::<TaskId>()
    }

    /// Tasks per kind name, in a fixed order.
    #[must_use]
    pub fn kind_counts(&self) -> Vec<(&'static str, usize)> {
        let names = [
            "load",
            "map",
            "reduce-partial",
            "reduce-combine",
            "reduce-span",
            "reduce-join",
            "rechunk",
            "block",
            "custom",
        ];
        names
            .iter()
            .map(|n| (*n, self.tasks.iter().filter(|t| t.kind.kind_name() == *n).count()))
            .filter(|(_, c)| *c > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::balanced_span;

    #[test]
    fn groups_cover_the_blocks_in_order_with_sizes_one_apart() {
        for n in 1usize..60 {
            for fan in 2..9 {
                let groups = n.div_ceil(fan);
                let spans: Vec<_> = (0..groups).map(|j| balanced_span(n, groups, j)).collect();
                assert_eq!(spans[0].0, 0);
                assert_eq!(spans[groups - 1].1, n);
                assert!(spans.windows(2).all(|w| w[0].1 == w[1].0), "{n} {fan}: {spans:?}");
                let sizes: Vec<usize> = spans.iter().map(|(s, e)| e - s).collect();
                assert!(sizes.iter().all(|&s| s >= 1 && s <= fan), "{n} {fan}: {sizes:?}");
                assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "larger first: {sizes:?}");
                assert!(sizes[0] - sizes[groups - 1] <= 1, "{n} {fan}: {sizes:?}");
            }
        }
        // The medium field's 37 time chunks, fan 4.
        let sizes: Vec<usize> = (0..10).map(|j| balanced_span(37, 10, j)).map(|(s, e)| e - s).collect();
        assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 4, 3, 3, 3]);
    }
}
