//! Keeping freed chunk memory for reuse.
//!
//! Chunks are megabytes. glibc's malloc serves allocations above its mmap threshold
//! (at most 32 MiB, often much less) with fresh `mmap`s and returns them with `munmap`
//! when freed, so every block costs page faults, kernel page zeroing and TLB
//! shootdowns. On this project's machines first-touching fresh memory runs at 4–7 GB/s
//! against ~19.5 GB/s for reused memory (shared/bench/README.md). Raising the trim
//! threshold and turning mmap allocation off makes freed blocks stay in the heap and be
//! handed out again: a pool by another name, at no cost in code. (The mmap threshold
//! alone cannot do it: glibc caps it at 32 MiB, below a (10, 721, 1440) f32 chunk, and
//! codecs inside `zarrs` allocate a fresh output per chunk.) One arena for all threads:
//! a worker thread's own arena lives in 64 MiB heaps that glibc unmaps as soon as they
//! are empty, whatever the trim threshold, so chunk-sized blocks there are fresh pages
//! every time; in the main arena the trim threshold holds. Chunk allocations are few
//! and large, so the shared arena's lock costs nothing measurable. Measured on the
//! shared Zarr v2 field, nanmean(axis=0): 2.57 s → 1.45 s (no mmap) → 0.82 s (one
//! arena). Applied once, when the first runtime starts, before its threads exist.

/// Raises glibc's mmap/trim thresholds (no-op elsewhere).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            unsafe extern "C" {
                fn mallopt(param: i32, value: i32) -> i32;
            }
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_THRESHOLD: i32 = -3;
            const M_MMAP_MAX: i32 = -4;
            const M_ARENA_MAX: i32 = -8;
            // SAFETY: mallopt only changes allocator tuning parameters; all values are
            // within glibc's accepted ranges (the mmap threshold is capped at 32 MiB on
            // 64-bit glibc; an mmap maximum of 0 means "never mmap", still valid).
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_MMAP_MAX, 0);
                mallopt(M_ARENA_MAX, 1);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

/// The system allocator, asking Linux for transparent huge pages (2 MiB) on large
/// blocks: install it with
/// `#[global_allocator] static A: chunkwise::HugePageAlloc = chunkwise::HugePageAlloc;`
/// (the `chunkwise` binary does).
///
/// Why: a reduction over the time axis of a (time, lat, lon) block reads 10–40 rows a
/// whole field (4 MB) apart side by side, and a blosc reader keeps ~10 MiB of decoded
/// blocks; with 4 KiB pages every row switch and most cache-block reads miss the TLB.
/// Where the kernel's THP mode is `madvise` (Debian's default), memory is only given
/// huge pages when asked. Measured on this project's 2-core machine (`chunkwise bench
/// nanmean-memory --size medium --repeat 3`, three interleaved rounds): in-memory
/// `nanmean(axis=0)` of the (365, 721, 1440) f32 field, medians 0.101–0.135 s →
/// 0.089–0.098 s (glibc's `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, which advises the whole
/// heap: 0.084–0.088 s); the Zarr nanmeans, their decode floors, nanstd and the anomaly
/// 2–11% faster; peak RSS unchanged.
///
/// Advised: the 2 MiB ranges a block of at least 2 MiB touches, edges included, and
/// what the heap grows by, as soon as an allocation sees it grown (before the memory is
/// handed out and touched; a 2 MiB range that has a 4 KiB page mapped is never made huge
/// at a fault). The advice is a hint: where THP is off (`never`), or on other systems,
/// this is the system allocator.
pub struct HugePageAlloc;

/// A transparent huge page on x86-64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Advises the huge pages `[p, p + len)` touches (blocks of at least one huge page),
/// and whatever the heap has grown by since the last call, before it is first touched
/// (as glibc's tunable does when it grows the heap).
fn advise_huge(p: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static ADVISED_TO: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" {
            fn sbrk(increment: isize) -> *mut std::ffi::c_void;
        }
        // SAFETY: sbrk(0) only reads the current end of the heap.
        let top = unsafe { sbrk(0) } as usize;
        let from = ADVISED_TO.load(Ordering::Relaxed);
        if top > from
            && ADVISED_TO
                .compare_exchange(from, top, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            && from > 0
        {
            advise_range(from / HUGE_PAGE * HUGE_PAGE, top.next_multiple_of(HUGE_PAGE));
        }
    }
    #[cfg(target_os = "linux")]
    if !p.is_null() && len >= HUGE_PAGE {
        advise_range(
            p as usize / HUGE_PAGE * HUGE_PAGE,
            (p as usize + len).next_multiple_of(HUGE_PAGE),
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, len);
}

/// `madvise(MADV_HUGEPAGE)` on `[start, end)`, huge-page aligned.
#[cfg(target_os = "linux")]
fn advise_range(start: usize, end: usize) {
    unsafe extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    const MADV_HUGEPAGE: i32 = 14;
    // SAFETY: `start..end` is page aligned, as madvise needs, and covers heap memory of
    // this process (a block just allocated, or the heap's growth) up to 2 MiB
    // boundaries; MADV_HUGEPAGE changes only how pages are backed, never their
    // contents, and parts of the range that are not mapped are skipped (ENOMEM,
    // ignored). A failure (THP not built in) leaves everything as it was.
    unsafe {
        madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE);
    }
}

// SAFETY: every block comes from `System` and goes back to it with the same layout;
// `advise_huge` never touches the memory's contents.
unsafe impl std::alloc::GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let p = unsafe { std::alloc::System.alloc(layout) };
        advise_huge(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() < HUGE_PAGE {
            // SAFETY: as `alloc_zeroed`'s caller promises.
            let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
            advise_huge(p, layout.size());
            return p;
        }
        // Advised before it is zeroed, so the zeroing faults in huge pages.
        // SAFETY: as `alloc`'s; the block is `layout.size()` writable bytes.
        unsafe {
            let p = std::alloc::System.alloc(layout);
            advise_huge(p, layout.size());
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `System` with this layout (above).
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if new_size < HUGE_PAGE {
            // SAFETY: as `realloc`'s caller promises; `ptr` came from `System`.
            let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
            advise_huge(p, new_size);
            return p;
        }
        // A large block is moved by hand: the system's realloc would copy into pages
        // it faults in before they could be advised (growing `Vec`s end up here).
        // SAFETY: `new_size` is non-zero and, as the caller promises, a valid size
        // for `layout.align()`; the old block holds `layout.size()` readable bytes and
        // is freed once, with its own layout.
        unsafe {
            let new = std::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
            let p = self.alloc(new);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                std::alloc::System.dealloc(ptr, layout);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout};

    /// The `VmFlags` of the mapping of this process that holds `addr` (Linux).
    #[cfg(target_os = "linux")]
    fn vm_flags(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_string());
            }
        }
        None
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn large_blocks_are_advised_huge_pages() {
        // Kernels built without THP have no such directory and refuse the advice.
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("no transparent huge pages in this kernel: nothing to check");
            return;
        }
        let a = HugePageAlloc;
        let layout = Layout::from_size_align(8 * HUGE_PAGE, 64).unwrap();
        // SAFETY: a non-zero layout, freed once with itself.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let mid = p as usize + 4 * HUGE_PAGE;
            // Sandboxed kernels (gVisor) may not report VmFlags at all.
            let Some(flags) = vm_flags(mid) else {
                a.dealloc(p, layout);
                eprintln!("no VmFlags in /proc/self/smaps: nothing to check");
                return;
            };
            assert!(
                flags.split_whitespace().any(|f| f == "hg"),
                "no MADV_HUGEPAGE on the block: {flags}"
            );
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn huge_page_blocks_hold_what_is_written_and_zeroed_ones_are_zero() {
        let a = HugePageAlloc;
        for size in [16, HUGE_PAGE - 8, 4 * HUGE_PAGE + 12_345] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: non-zero layouts; every block is written within its size, read
            // back, and freed once with its own layout.
            unsafe {
                let z = a.alloc_zeroed(layout);
                assert!(!z.is_null());
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0), "{size}");
                let p = a.alloc(layout);
                assert!(!p.is_null() && (p as usize).is_multiple_of(64));
                for i in (0..size).step_by(4093) {
                    *p.add(i) = (i % 251) as u8;
                }
                let q = a.realloc(p, layout, 2 * size);
                for i in (0..size).step_by(4093) {
                    assert_eq!(*q.add(i), (i % 251) as u8, "{size} at {i}");
                }
                a.dealloc(q, Layout::from_size_align(2 * size, 64).unwrap());
                a.dealloc(z, layout);
            }
        }
    }
}
