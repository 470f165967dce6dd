//! The facade: configuration, the worker pool, and `compute`.
//!
//! A [`Runtime`] owns a rayon pool and the scheduler configuration. `compute` lowers
//! the requested arrays (and custom tasks) to one task graph — shared sub-expressions
//! once — optimises it, runs it, and assembles the output blocks. [`Runtime::global`]
//! is a lazily created default (all cores, or `CHUNKWISE_THREADS`) used by
//! [`Array::compute`].
//!
//! ```
//! use chunkwise::{Array, Config, Runtime, SchedulerKind};
//! let rt = Runtime::new(Config { threads: 2, scheduler: SchedulerKind::Threaded, ..Config::default() }).unwrap();
//! let x = Array::random_uniform(&[1000, 1000], 0.0, 1.0, 42, [250, 250]).unwrap();
//! let (m, s) = (x.mean(None).unwrap(), x.std(None, 0.0).unwrap());
//! let out = rt.compute_many(&[&m, &s]).unwrap();   // x's blocks are generated once
//! assert!((out[0].data().get_f64(0) - 0.5).abs() < 0.01);
//! ```

use crate::array::Array;
use crate::chunk::{Chunk, Value};
use crate::delayed::{Delayed, downcast};
use crate::device::DeviceKind;
use crate::device::cuda::CudaDevice;
use crate::dtype::{Buffer, Element};
use crate::error::{Error, Result};
use crate::graph::lower::{Target, lower};
use crate::graph::{Output, TaskGraph};
use crate::optimize::{default_rules, optimize, rules_for_budget};
use crate::scheduler::{self, ProgressFn, RunOptions, RunStats, SchedulerKind};
use std::sync::{Arc, OnceLock};

/// Runtime configuration.
#[derive(Clone)]
pub struct Config {
    /// Worker threads (0: one per core, or `CHUNKWISE_THREADS`).
    pub threads: usize,
    /// Which scheduler.
    pub scheduler: SchedulerKind,
    /// Run the graph optimizer (cull, fuse).
    pub optimize: bool,
    /// Progress callback.
    pub progress: Option<Arc<ProgressFn>>,
    /// The memory budget in bytes the scheduler keeps (`None`: unlimited). The default
    /// is [`default_memory_limit`]: a quarter of physical memory.
    pub memory_limit: Option<usize>,
    /// Record a trace of every run (see [`RunStats::trace`]).
    pub trace: bool,
    /// Where reductions run: the CPU, a GPU, or a GPU when there is one (default:
    /// `CHUNKWISE_DEVICE`, else the CPU).
    pub device: DeviceKind,
}

/// A quarter of physical memory (or of the cgroup limit), 4 GiB where it cannot be read.
///
/// A quarter, not dask's "all of it": the budget counts the engine's live blocks, not
/// the allocator's slack, the codecs' buffers or other processes, and a shared input held
/// across a barrier may take only an eighth of it before it is re-read instead (see
/// [`RereadShared`](crate::optimize::RereadShared)).
#[must_use]
pub fn default_memory_limit() -> usize {
    crate::bytesize::physical_memory().map_or(4 << 30, |m| m / 4)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 0,
            scheduler: SchedulerKind::Threaded,
            optimize: true,
            progress: None,
            memory_limit: Some(default_memory_limit()),
            trace: false,
            device: DeviceKind::from_env(),
        }
    }
}

/// Worker pool plus configuration.
pub struct Runtime {
    config: Config,
    pool: rayon::ThreadPool,
    gpu: Option<CudaDevice>,
    /// GPUs used, from `gpu` on (every one the driver reports that opens).
    gpus: usize,
    device_note: Option<String>,
}

fn default_threads() -> usize {
    std::env::var("CHUNKWISE_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl Runtime {
    /// A runtime with its own pool.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the thread pool cannot be created; the GPU's
    /// error when [`DeviceKind::Cuda`] finds none.
    pub fn new(config: Config) -> Result<Self> {
        let (gpu, device_note) = config.device.resolve()?;
        crate::device::cpu::alloc::keep_freed_memory();
        let threads = if config.threads == 0 {
            default_threads()
        } else {
            config.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chunkwise-{i}"))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("cannot start {threads} worker threads: {e}")))?;
        // Every GPU after the first that opens joins (`auto` and `cuda` use them all).
        let gpus = gpu.map_or(0, |g| {
            1 + (g.ordinal() + 1..CudaDevice::count())
                .take_while(|&k| CudaDevice::new(k).is_ok())
                .count()
        });
        Ok(Runtime {
            config,
            pool,
            gpu,
            gpus,
            device_note,
        })
    }

    /// The process-wide default runtime.
    ///
    /// # Panics
    /// If the default pool cannot be started (the OS refused to create threads). A GPU
    /// asked for with `CHUNKWISE_DEVICE` and missing is reported on stderr, and the
    /// runtime computes on the CPU.
    pub fn global() -> &'static Runtime {
        static RT: OnceLock<Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            Runtime::new(Config::default())
                .or_else(|e| {
                    // CHUNKWISE_DEVICE asked for a GPU that is not there: say so once and
                    // compute on the CPU rather than fail every later call.
                    eprintln!("chunkwise: CHUNKWISE_DEVICE: {e}; computing on the CPU");
                    Runtime::new(Config {
                        device: DeviceKind::Cpu,
                        ..Config::default()
                    })
                })
                .expect("cannot start the default worker pool")
        })
    }

    /// Worker threads.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The first GPU reductions run on, if any.
    #[must_use]
    pub fn gpu(&self) -> Option<CudaDevice> {
        self.gpu
    }

    /// How many GPUs it computes on (0: the CPU only).
    #[must_use]
    pub fn gpu_count(&self) -> usize {
        self.gpus
    }

    /// Why `--device auto` computes on the CPU (no GPU, no `cuda` feature), if it does.
    #[must_use]
    pub fn device_note(&self) -> Option<&str> {
        self.device_note.as_deref()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The optimised task graph for some targets (what `compute` would run).
    #[must_use]
    pub fn graph(&self, targets: &[Target<'_>]) -> TaskGraph {
        let g = lower(targets);
        if !self.config.optimize {
            return g;
        }
        let mut rules = match self.config.memory_limit {
            Some(limit) => rules_for_budget(limit),
            None => default_rules(),
        };
        // A GPU, or host devices' placement, takes a reduction's tree steps one by one.
        if self.gpu.is_some() || matches!(self.config.device, DeviceKind::Hosts(_)) {
            rules.retain(|r| r.name() != "split-columns");
        }
        optimize(g, &rules).0
    }

    pub(crate) fn run(&self, targets: &[Target<'_>]) -> Result<(scheduler::Outputs, TaskGraph, RunStats)> {
        let g = self.graph(targets);
        let (outs, stats) = self.run_graph(&g, &scheduler::sink::Sinks::none())?;
        Ok((outs, g, stats))
    }

    /// Runs a built graph, writing the outputs that have a sink in place.
    fn run_graph(&self, g: &TaskGraph, sinks: &scheduler::sink::Sinks) -> Result<(scheduler::Outputs, RunStats)> {
        if let Some(limit) = self.config.memory_limit {
            scheduler::budget::check(g, limit)?;
            if let DeviceKind::Hosts(n) = self.config.device {
                let n = usize::from(n.max(1));
                scheduler::budget::check_device_share(g, limit / n, n)?;
            }
        }
        let opts = RunOptions {
            kind: self.config.scheduler,
            progress: self.config.progress.clone(),
            memory_limit: self.config.memory_limit,
            trace: self.config.trace,
            gpu: self.gpu.map(|device| scheduler::GpuUse {
                device,
                count: self.gpus,
                every_step: self.config.device == DeviceKind::Cuda,
            }),
            hosts: match self.config.device {
                DeviceKind::Hosts(n) => Some(scheduler::HostDevices {
                    memory_per_device: self.config.memory_limit.map(|l| l / usize::from(n.max(1))),
                    ..scheduler::HostDevices::new(n)
                }),
                _ => None,
            },
        };
        scheduler::run_sunk(g, &opts, &self.pool, sinks)
    }

    /// Computes several arrays together (shared work done once); returns each as a
    /// dtype-dynamic [`Chunk`] and the run's counters.
    ///
    /// # Errors
    /// The first task error.
    pub fn compute_with_stats(&self, arrays: &[&Array]) -> Result<(Vec<Chunk>, RunStats)> {
        let targets: Vec<Target<'_>> = arrays.iter().map(|a| Target::Array(a)).collect();
        let g = self.graph(&targets);
        // Multi-block results are written in place as their blocks finish (see
        // `scheduler::sink`); the rest are assembled here.
        let mut sinks = scheduler::sink::Sinks::for_graph(&g)?;
        let (outs, stats) = self.run_graph(&g, &sinks)?;
        let chunks = outs
            .into_iter()
            .zip(&g.outputs)
            .enumerate()
            .map(|(k, (vals, o))| match sinks.finish(k) {
                Some(sunk) => sunk,
                None => self.pool.install(|| assemble(o, vals)),
            })
            .collect::<Result<_>>()?;
        Ok((chunks, stats))
    }

    /// Computes several arrays together.
    ///
    /// # Errors
    /// The first task error.
    pub fn compute_many(&self, arrays: &[&Array]) -> Result<Vec<Chunk>> {
        Ok(self.compute_with_stats(arrays)?.0)
    }

    /// Computes one array as a typed ndarray.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] (before computing) when `T` is not the array's dtype;
    /// otherwise the first task error.
    pub fn compute<T: Element>(&self, a: &Array) -> Result<ndarray::ArrayD<T>> {
        if T::DTYPE != a.dtype() {
            return Err(Error::DTypeMismatch {
                requested: T::DTYPE,
                actual: a.dtype(),
            });
        }
        self.compute_many(&[a])?.pop().expect("one output").into_ndarray()
    }

    /// Computes a custom task's value.
    ///
    /// # Errors
    /// The first task error.
    pub fn compute_delayed<T: Clone + Send + Sync + 'static>(&self, d: &Delayed<T>) -> Result<T> {
        let (outs, _, _) = self.run(&[Target::Custom(d.node())])?;
        let v = &outs[0][0];
        Ok(downcast::<T>(v)?.clone())
    }
}

fn assemble(o: &Output, vals: Vec<Arc<Value>>) -> Result<Chunk> {
    let Output::Array { grid, dtype, .. } = o else {
        return Err(Error::Unsupported("not an array output".into()));
    };
    let shape = grid.shape();
    if vals.len() == 1 {
        let v = vals.into_iter().next().expect("one block");
        return match Arc::try_unwrap(v) {
            Ok(Value::Chunk(c)) => c.reshaped(shape),
            Ok(Value::Shared(c)) => Arc::try_unwrap(c).or_else(|c| c.try_clone())?.reshaped(shape),
            Ok(_) => Err(Error::Unsupported("array output is not a chunk".into())),
            Err(shared) => shared.as_chunk()?.try_clone()?.reshaped(shape),
        };
    }
    let mut out = Chunk::new(shape.clone(), Buffer::zeros(*dtype, shape.iter().product()))?;
    let blocks = vals
        .iter()
        .enumerate()
        .map(|(b, v)| Ok((grid.block_offset(&grid.unlinear(b)), v.as_chunk()?)))
        .collect::<Result<Vec<_>>>()?;
    // The first touch of a large result's fresh pages is most of the cost: both cores.
    out.write_blocks_parallel(&blocks)?;
    Ok(out)
}

impl Array {
    /// Computes on the global runtime as a typed ndarray.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `T` is not the dtype; otherwise the first task error.
    pub fn compute<T: Element>(&self) -> Result<ndarray::ArrayD<T>> {
        Runtime::global().compute(self)
    }

    /// Computes a 0-d array (a full reduction) on the global runtime as a scalar.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the array is not 0-d; otherwise as [`Array::compute`].
    pub fn compute_scalar<T: Element>(&self) -> Result<T> {
        if self.ndim() != 0 {
            return Err(Error::InvalidArgument(format!(
                "compute_scalar on an array of shape {:?}",
                self.shape()
            )));
        }
        Ok(*self.compute::<T>()?.first().expect("0-d array has one element"))
    }

    /// Computes on the global runtime as a dtype-dynamic chunk.
    ///
    /// # Errors
    /// The first task error.
    pub fn compute_chunk(&self) -> Result<Chunk> {
        Runtime::global()
            .compute_many(&[self])?
            .pop()
            .ok_or_else(|| Error::Unsupported("no output".into()))
    }
}
