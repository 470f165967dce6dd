//! One opened GPU: its context, one stream per worker thread, pinned staging buffers,
//! the compiled modules, and device memory with the engine's own byte accounting
//! (feature `cuda`).
//!
//! Every worker thread queues its work on its own stream, so one task's upload
//! overlaps another's kernels, and a task waits for its own stream (and no other)
//! before it returns: a value handed to the next task is complete, and a buffer freed
//! afterwards is no longer read by anything queued. Uploads go through a per-thread
//! pinned (page-locked) staging buffer: a copy from pageable memory is staged through
//! the driver's own small buffer at a few GB/s, a copy from pinned memory is a DMA at
//! the link's rate while the thread fills the next piece.
//!
//! A GPU is opened once per process and kept in a registry indexed by ordinal, so the
//! handle the rest of the crate passes around ([`super::CudaDevice`]) is a plain,
//! copyable ordinal. Every allocation goes through [`Gpu::alloc`], which counts live
//! bytes against the device's limit (the memory budget applies per device) and keeps
//! the high-water mark; a [`DeviceBuffer`] gives its bytes back when dropped.
//!
//! Kernel files are compiled by NVRTC for the device's architecture the first time one
//! of their kernels is needed, then cached in memory and on disk (`CHUNKWISE_PTX_DIR`,
//! default `~/.cache/chunkwise/ptx`: NVRTC takes seconds for `reduce.cu`).

use super::{MemoryStats, nvrtc, source};
use crate::dtype::{Buffer, DType};
use crate::error::{Error, Result};
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, LaunchConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// An opened GPU.
pub struct Gpu {
    pub(crate) ordinal: usize,
    pub(crate) name: String,
    pub(crate) arch: &'static str,
    pub(crate) sms: u32,
    pub(crate) ctx: Arc<CudaContext>,
    modules: Mutex<HashMap<String, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
    live: AtomicUsize,
    peak: AtomicUsize,
    limit: AtomicUsize,
    uploaded: AtomicUsize,
    downloaded: AtomicUsize,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cuda:{} ({}, {})", self.ordinal, self.name, self.arch)
    }
}

fn driver(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Cuda(format!("{what}: {e:?}"))
}

/// Whether the CUDA driver library can be loaded (never panics).
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the candidate library names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Number of GPUs the driver reports (0 without a driver or on any error).
pub fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        if !driver_present() {
            return 0;
        }
        CudaContext::device_count().map_or(0, |n| usize::try_from(n).unwrap_or(0))
    })
}

/// The virtual architecture NVRTC compiles for: the device's own where NVRTC knows it,
/// else the newest below it (PTX is compiled forward by the driver).
fn arch_of(major: i32, minor: i32) -> &'static str {
    match (major, minor) {
        (m, _) if m >= 9 => "compute_90",
        (8, n) if n >= 9 => "compute_89",
        (8, n) if n >= 6 => "compute_86",
        (8, _) => "compute_80",
        (7, n) if n >= 5 => "compute_75",
        _ => "compute_70",
    }
}

/// Lets the device's default memory pool keep freed memory (up to `bytes`) instead of
/// returning it to the driver at every synchronisation — its default, which made every
/// task's allocations map fresh pages (a 4 GiB copy kernel ran at 0.5 TB/s with the
/// output allocated per call). Best effort: a driver without pools allocates directly.
fn keep_pool_memory(ctx: &CudaContext, bytes: usize) {
    use cudarc::driver::sys;
    if !ctx.has_async_alloc() {
        return;
    }
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut threshold = bytes as u64;
    // SAFETY: the device handle is valid for the open context; the attribute takes a
    // pointer to a u64 (cuMemPoolSetAttribute, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD).
    unsafe {
        if sys::cuDeviceGetDefaultMemPool(&raw mut pool, ctx.cu_device()) == sys::CUresult::CUDA_SUCCESS {
            let _ = sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&raw mut threshold).cast(),
            );
        }
    }
}

/// The registry of opened GPUs.
fn registry() -> &'static Mutex<HashMap<usize, Arc<Gpu>>> {
    static R: OnceLock<Mutex<HashMap<usize, Arc<Gpu>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The GPU of `ordinal`, opened on first use.
///
/// # Errors
/// [`Error::Cuda`] when there is no driver, no such device, or the context fails.
pub fn get(ordinal: usize) -> Result<Arc<Gpu>> {
    let mut reg = registry()
        .lock()
        .map_err(|_| Error::Cuda("GPU registry poisoned".into()))?;
    if let Some(g) = reg.get(&ordinal) {
        return Ok(g.clone());
    }
    let n = count();
    if n == 0 {
        return Err(Error::Cuda(if driver_present() {
            "the CUDA driver reports no GPU".into()
        } else {
            "no CUDA driver (libcuda.so) on this machine".into()
        }));
    }
    if ordinal >= n {
        return Err(Error::Cuda(format!("no GPU {ordinal}: this machine has {n}")));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| driver(&format!("opening GPU {ordinal}"), e))?;
    let (major, minor) = ctx.compute_capability().map_err(|e| driver("compute capability", e))?;
    let sms = ctx
        .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        .map_err(|e| driver("multiprocessor count", e))?;
    let total = ctx.total_mem().map_err(|e| driver("device memory size", e))?;
    keep_pool_memory(&ctx, total);
    let g = Arc::new(Gpu {
        ordinal,
        name: ctx.name().unwrap_or_else(|_| "unknown GPU".into()),
        arch: arch_of(major, minor),
        sms: u32::try_from(sms).unwrap_or(1).max(1),
        ctx,
        modules: Mutex::new(HashMap::new()),
        functions: Mutex::new(HashMap::new()),
        live: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        // Nine tenths of the card: the driver, the modules and the caching allocator
        // need the rest.
        limit: AtomicUsize::new(total / 10 * 9),
        uploaded: AtomicUsize::new(0),
        downloaded: AtomicUsize::new(0),
    });
    reg.insert(ordinal, g.clone());
    Ok(g)
}

/// A typed buffer in device memory; its bytes are given back to the device's account
/// when it is dropped.
pub struct DeviceBuffer {
    pub(crate) gpu: Arc<Gpu>,
    pub(crate) dtype: DType,
    pub(crate) len: usize,
    pub(crate) mem: CudaSlice<u8>,
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceBuffer({} × {} on {:?})", self.len, self.dtype, self.gpu)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        self.gpu.live.fetch_sub(self.mem.len(), Ordering::Relaxed);
    }
}

impl DeviceBuffer {
    /// Element type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held on the device.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        self.len * self.dtype.size()
    }

    /// The device address of element `offset` (for kernel arguments).
    pub(crate) fn ptr_at(&self, offset: usize) -> u64 {
        // The pointer is used on the calling thread's stream; cudarc's event tracking
        // makes that stream wait for the buffer's last write on any other stream.
        let stream = self.gpu.stream().unwrap_or_else(|_| self.mem.stream().clone());
        let (p, _sync) = self.mem.device_ptr(&stream);
        p + (offset * self.dtype.size()) as u64
    }
}

impl Gpu {
    /// Allocates `len` elements of `dtype` (contents unset), counted against the limit.
    ///
    /// # Errors
    /// [`Error::Cuda`] when the allocation would pass the
    /// device's limit; the driver's error otherwise.
    pub fn alloc(self: &Arc<Self>, dtype: DType, len: usize) -> Result<DeviceBuffer> {
        let bytes = len * dtype.size();
        let limit = self.limit.load(Ordering::Relaxed);
        let before = self.live.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > limit {
            self.live.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Error::Cuda(format!(
                "{self:?}: allocating {bytes} bytes would pass the device memory limit of {limit} bytes \
                 ({before} in use)"
            )));
        }
        self.peak.fetch_max(before + bytes, Ordering::Relaxed);
        // At least one byte: a zero-length allocation is not a valid device pointer.
        // SAFETY: the buffer is written by a copy or a kernel before it is read.
        let mem = unsafe { self.stream()?.alloc::<u8>(bytes.max(1)) };
        let mem = match mem {
            Ok(m) => m,
            Err(e) => {
                self.live.fetch_sub(bytes, Ordering::Relaxed);
                return Err(driver(&format!("{self:?}: allocating {bytes} bytes"), e));
            }
        };
        // Count what was really allocated, so the drop gives back the same amount.
        self.live.fetch_add(mem.len() - bytes, Ordering::Relaxed);
        Ok(DeviceBuffer {
            gpu: self.clone(),
            dtype,
            len,
            mem,
        })
    }

    /// Copies a host buffer to the device, through this thread's pinned staging
    /// buffer: pieces of half of [`STAGING_BYTES`], one copied in by the CPU while the
    /// other's DMA runs.
    ///
    /// # Errors
    /// Allocation or copy failures.
    pub fn upload(self: &Arc<Self>, buf: &Buffer) -> Result<DeviceBuffer> {
        let d = self.alloc(buf.dtype(), buf.len())?;
        let bytes = host_bytes(buf);
        if bytes.is_empty() {
            return Ok(d);
        }
        let stream = self.stream()?;
        let dst = d.ptr_at(0);
        let fail = |e| driver(&format!("{self:?}: upload of {} bytes", bytes.len()), e);
        STAGING.with(|st| -> Result<()> {
            let mut st = st.borrow_mut();
            let stage = st.for_gpu(self, &stream)?;
            for (k, piece) in bytes.chunks(STAGING_BYTES / 2).enumerate() {
                // Two halves: one is filled while the other's DMA runs. A half is
                // refilled only after the copy that last read it has finished.
                let half = k % 2;
                if stage.busy[half] {
                    stage.done[half].synchronize().map_err(fail)?;
                }
                // SAFETY: each half holds STAGING_BYTES / 2 bytes, no copy reads this
                // one now (waited for above), and only this thread uses it.
                let pinned = unsafe {
                    let dst = stage.ptr.add(half * (STAGING_BYTES / 2));
                    std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len());
                    std::slice::from_raw_parts(dst, piece.len())
                };
                // SAFETY: `dst` has room for all of `bytes`; the pinned source outlives
                // the copy (it is refilled only after the copy's event).
                unsafe {
                    cudarc::driver::result::memcpy_htod_async(
                        dst + (k * (STAGING_BYTES / 2)) as u64,
                        pinned,
                        stream.cu_stream(),
                    )
                }
                .map_err(fail)?;
                stage.done[half].record(&stream).map_err(fail)?;
                stage.busy[half] = true;
            }
            Ok(())
        })?;
        self.uploaded.fetch_add(bytes.len(), Ordering::Relaxed);
        Ok(d)
    }

    /// Copies a device buffer back to the host (waits for the work that writes it).
    ///
    /// # Errors
    /// Copy failures, or a kernel error reported at the synchronisation.
    pub fn download(self: &Arc<Self>, d: &DeviceBuffer) -> Result<Buffer> {
        self.download_n(d, d.len)
    }

    /// Copies the first `len` elements of a device buffer back to the host.
    ///
    /// # Errors
    /// As [`Gpu::download`]; `len` past the buffer's end.
    pub fn download_n(self: &Arc<Self>, d: &DeviceBuffer, len: usize) -> Result<Buffer> {
        if len > d.len {
            return Err(Error::Cuda(format!(
                "downloading {len} of a buffer of {} elements",
                d.len
            )));
        }
        let n = len * d.dtype.size();
        let mut raw = vec![0u8; n];
        let stream = self.stream()?;
        if n > 0 {
            let view = d.mem.slice(0..n);
            stream
                .memcpy_dtoh(&view, &mut raw)
                .map_err(|e| driver(&format!("{self:?}: download of {n} bytes"), e))?;
        }
        stream
            .synchronize()
            .map_err(|e| driver(&format!("{self:?}: waiting for the stream"), e))?;
        self.downloaded.fetch_add(n, Ordering::Relaxed);
        Ok(buffer_from_bytes(d.dtype, &raw))
    }

    /// "cuda:0 NVIDIA H100 80GB HBM3 (compute_90, 132 SMs)".
    #[must_use]
    pub fn describe(&self) -> String {
        format!("cuda:{} {} ({}, {} SMs)", self.ordinal, self.name, self.arch, self.sms)
    }

    /// Waits for the work this thread queued on the device.
    ///
    /// # Errors
    /// A kernel error reported at the synchronisation.
    pub fn synchronize(&self) -> Result<()> {
        self.stream()?
            .synchronize()
            .map_err(|e| driver(&format!("{self:?}: waiting for the stream"), e))
    }

    /// The calling thread's stream on this GPU (created on first use).
    ///
    /// # Errors
    /// The driver refuses a new stream.
    pub(crate) fn stream(&self) -> Result<Arc<CudaStream>> {
        STREAMS.with(|m| {
            let mut m = m.borrow_mut();
            if let Some(s) = m.get(&self.ordinal) {
                return Ok(s.clone());
            }
            let s = self
                .ctx
                .new_stream()
                .map_err(|e| driver(&format!("{self:?}: creating a stream"), e))?;
            m.insert(self.ordinal, s.clone());
            Ok(s)
        })
    }

    /// The byte counters.
    #[must_use]
    pub fn memory(&self) -> MemoryStats {
        MemoryStats {
            live: self.live.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            limit: self.limit.load(Ordering::Relaxed),
            uploaded: self.uploaded.load(Ordering::Relaxed),
            downloaded: self.downloaded.load(Ordering::Relaxed),
        }
    }

    /// Sets the limit device allocations are checked against.
    pub fn set_memory_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// Starts a new high-water mark and zeroes the transfer counters.
    pub fn reset_counters(&self) {
        self.peak.store(self.live.load(Ordering::Relaxed), Ordering::Relaxed);
        self.uploaded.store(0, Ordering::Relaxed);
        self.downloaded.store(0, Ordering::Relaxed);
    }

    /// The kernel `name` of the module built from `file` (`source::FILES`), compiling
    /// and loading the module on first use.
    ///
    /// # Errors
    /// [`Error::KernelCompile`] with NVRTC's log; [`Error::Cuda`] when the module does
    /// not define `name`.
    pub fn function(&self, file: &str, name: &str) -> Result<CudaFunction> {
        self.function_for(file, None, name)
    }

    /// As [`Gpu::function`], from the build of `file` for one dtype only (`reduce.cu`
    /// instantiates its kernels per dtype under `CW_ONLY`: a twelfth of the compile).
    pub fn function_for(&self, file: &str, dtype: Option<DType>, name: &str) -> Result<CudaFunction> {
        let module_name = dtype.map_or_else(|| file.to_string(), |d| format!("{file}[{}]", d.suffix()));
        let key = format!("{module_name}/{name}");
        if let Some(f) = self.functions.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(f.clone());
        }
        let module = self.module(&module_name, || {
            let f = source::FILES
                .iter()
                .find(|f| f.name == file)
                .ok_or_else(|| Error::Cuda(format!("no kernel file {file}")))?;
            Ok(source::program_for(f, dtype))
        })?;
        let f = module
            .load_function(name)
            .map_err(|e| driver(&format!("{self:?}: kernel {name} in {module_name}"), e))?;
        self.functions.lock().map_err(|_| poisoned())?.insert(key, f.clone());
        Ok(f)
    }

    /// The module named `name`, compiled from `program()` on first use.
    pub(crate) fn module(&self, name: &str, program: impl FnOnce() -> Result<String>) -> Result<Arc<CudaModule>> {
        let mut mods = self.modules.lock().map_err(|_| poisoned())?;
        if let Some(m) = mods.get(name) {
            return Ok(m.clone());
        }
        let text = program()?;
        let ptx = cached_ptx(&text, name, self.arch)?;
        let m = self
            .ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|e| driver(&format!("{self:?}: loading module {name}"), e))?;
        mods.insert(name.to_string(), m.clone());
        Ok(m)
    }

    /// A grid-stride launch over `n` elements: enough blocks to fill the device.
    pub(crate) fn grid_for(&self, n: usize) -> LaunchConfig {
        let blocks = n.div_ceil(256).clamp(1, self.sms as usize * 16);
        LaunchConfig {
            grid_dim: (u32::try_from(blocks).unwrap_or(u32::MAX), 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }
}

/// Bytes of a thread's pinned staging buffer (two halves). Small on purpose: pinning
/// memory costs about as much as copying it, and it is paid once per thread per
/// process; 4 MiB pieces keep the link busy while the CPU fills the other half.
pub const STAGING_BYTES: usize = 8 << 20;

thread_local! {
    static STREAMS: std::cell::RefCell<HashMap<usize, Arc<CudaStream>>> = std::cell::RefCell::new(HashMap::new());
    static STAGING: std::cell::RefCell<Staging> = std::cell::RefCell::new(Staging::default());
}

/// One thread's pinned staging buffers, per GPU.
#[derive(Default)]
struct Staging {
    bufs: HashMap<usize, Pinned>,
}

/// Page-locked host memory from `cuMemHostAlloc`.
struct Pinned {
    ptr: *mut u8,
    ctx: Arc<CudaContext>,
    /// The stream copies from it are queued on.
    stream: Arc<CudaStream>,
    /// Recorded after the last copy from each half, and whether it was.
    done: [cudarc::driver::CudaEvent; 2],
    busy: [bool; 2],
}

impl Staging {
    /// This thread's staging buffer for `gpu` ([`STAGING_BYTES`]).
    fn for_gpu(&mut self, gpu: &Arc<Gpu>, stream: &Arc<CudaStream>) -> Result<&mut Pinned> {
        use std::collections::hash_map::Entry;
        let slot = match self.bufs.entry(gpu.ordinal) {
            Entry::Occupied(e) => return Ok(e.into_mut()),
            Entry::Vacant(v) => v,
        };
        gpu.ctx.bind_to_thread().map_err(|e| driver("binding the context", e))?;
        let event = || {
            gpu.ctx
                .new_event(None)
                .map_err(|e| driver(&format!("{gpu:?}: creating an event"), e))
        };
        let done = [event()?, event()?];
        // SAFETY: a plain page-locked allocation, freed in `Drop`.
        let ptr = unsafe { cudarc::driver::result::malloc_host(STAGING_BYTES, 0) }
            .map_err(|e| driver(&format!("{gpu:?}: pinning {STAGING_BYTES} bytes of host memory"), e))?;
        Ok(slot.insert(Pinned {
            ptr: ptr.cast(),
            ctx: gpu.ctx.clone(),
            stream: stream.clone(),
            done,
            busy: [false; 2],
        }))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Copies from it may still be queued.
        let _ = self.stream.synchronize();
        let _ = self.ctx.bind_to_thread();
        // SAFETY: allocated by `malloc_host` and no copy reads it any more.
        let _ = unsafe { cudarc::driver::result::free_host(self.ptr.cast()) };
    }
}

fn poisoned() -> Error {
    Error::Cuda("a GPU cache lock was poisoned by a panic".into())
}

/// Where compiled PTX is kept between processes: `CHUNKWISE_PTX_DIR`, else the user's
/// cache directory (`$XDG_CACHE_HOME` or `~/.cache`, then `chunkwise/ptx`); an empty
/// `CHUNKWISE_PTX_DIR` turns the cache off. NVRTC takes seconds for `reduce.cu`, which a
/// command-line user would otherwise pay on every `chunkwise reduce`.
fn ptx_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if let Some(d) = std::env::var_os("CHUNKWISE_PTX_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("chunkwise").join("ptx"))
}

/// NVRTC's version, part of the cache key (a newer NVRTC may emit PTX an older driver
/// cannot load).
fn nvrtc_version() -> (i32, i32) {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC was loaded (the caller compiled or will compile with it); two
    // out-parameters.
    let _ = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&raw mut major, &raw mut minor) };
    (major, minor)
}

/// PTX for `program`, from the PTX cache when it holds this exact text for this
/// architecture and NVRTC, else compiled (and stored there, written under a temporary
/// name and renamed, so a reader never sees half a file).
fn cached_ptx(program: &str, name: &str, arch: &'static str) -> Result<String> {
    cached_ptx_in(ptx_dir().filter(|_| nvrtc::available()), program, name, arch)
}

fn cached_ptx_in(dir: Option<std::path::PathBuf>, program: &str, name: &str, arch: &'static str) -> Result<String> {
    let file = dir.as_ref().map(|d| {
        let (ma, mi) = nvrtc_version();
        let key = super::codegen::fnv1a(format!("{arch}\nnvrtc {ma}.{mi}\n{program}").as_bytes());
        d.join(format!("{}-{arch}-{key:016x}.ptx", name.replace(['/', '.'], "_")))
    });
    if let Some(f) = &file
        && let Ok(p) = std::fs::read_to_string(f)
        && p.contains(".entry")
    {
        return Ok(p);
    }
    let ptx = nvrtc::compile_ptx(program, name, arch)?;
    if let (Some(d), Some(f)) = (&dir, &file) {
        // Best effort: a read-only directory only costs the next process a compile.
        let tmp = f.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::create_dir_all(d).is_ok() && std::fs::write(&tmp, &ptx).is_ok() {
            let _ = std::fs::rename(&tmp, f);
        }
    }
    Ok(ptx)
}

/// The bytes of a host buffer as the device stores them (bool as one 0/1 byte).
fn host_bytes(buf: &Buffer) -> &[u8] {
    crate::dispatch_buffer!(buf, v, T => bytemuck::cast_slice(v.as_slice()))
}

/// A host buffer of `dtype` from device bytes.
fn buffer_from_bytes(dtype: DType, raw: &[u8]) -> Buffer {
    use bytemuck::pod_collect_to_vec as v;
    match dtype {
        DType::Bool => Buffer::Bool(raw.iter().map(|&b| b != 0).collect()),
        DType::I8 => Buffer::I8(v(raw)),
        DType::I16 => Buffer::I16(v(raw)),
        DType::I32 => Buffer::I32(v(raw)),
        DType::I64 => Buffer::I64(v(raw)),
        DType::U8 => Buffer::U8(v(raw)),
        DType::U16 => Buffer::U16(v(raw)),
        DType::U32 => Buffer::U32(v(raw)),
        DType::U64 => Buffer::U64(v(raw)),
        DType::F32 => Buffer::F32(v(raw)),
        DType::F64 => Buffer::F64(v(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_ptx_is_kept_on_disk_and_read_back() {
        if !nvrtc::available() {
            eprintln!("skipped: NVRTC not found");
            return;
        }
        let dir = std::env::temp_dir().join(format!("chunkwise-ptx-{}", std::process::id()));
        let prog = "extern \"C\" __global__ void cw_probe(float* y) { y[threadIdx.x] = 1.0f; }";
        let first = cached_ptx_in(Some(dir.clone()), prog, "probe.cu", "compute_80").expect("compile");
        assert!(first.contains(".entry cw_probe"), "{first}");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .expect("cache dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        // The second call reads the file (marked here), not NVRTC.
        std::fs::write(&files[0], format!("{first}\n// from the cache")).expect("mark");
        let again = cached_ptx_in(Some(dir.clone()), prog, "probe.cu", "compute_80").expect("cached");
        assert!(again.ends_with("// from the cache"));
        // Another architecture is another entry.
        cached_ptx_in(Some(dir.clone()), prog, "probe.cu", "compute_90").expect("compile");
        assert_eq!(std::fs::read_dir(&dir).expect("cache dir").count(), 2);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
