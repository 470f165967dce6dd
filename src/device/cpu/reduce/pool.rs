//! Accumulator vectors handed from partials that are done to new ones.
//!
//! A chunk step's partial over a (721, 1440) field is two 8 MB vectors (sum and count
//! of a mean). Fresh memory is mapped by the kernel on first write, and the kernel
//! zeroes every page before handing it over: in a Zarr v2 `nanmean` of the medium
//! field that zeroing (`clear_page_erms`) was 17% of the profile, a memory pass the
//! accumulators did not need. So a combine step hands the partials it has merged (and
//! owned) here, the final step the vectors it no longer needs, and the next chunk step
//! takes them, already mapped, instead of fresh memory; its accumulators are written
//! before they are read (`bank::Unmade`), so old contents never show.
//!
//! Bounded ([`KEEP_BYTES`], and only vectors of at least [`MIN_BYTES`]: smaller ones
//! cost the allocator nothing), and emptied when a graph run ends, so no memory is held
//! between runs.

use std::any::Any;
use std::sync::Mutex;

/// Most bytes kept.
const KEEP_BYTES: usize = 128 << 20;
/// Smallest vector worth keeping.
const MIN_BYTES: usize = 1 << 20;

/// Kept vectors.
struct Pool(Mutex<Vec<Vec<f64>>>);

static POOL: Pool = Pool(Mutex::new(Vec::new()));

impl Pool {
    fn give(&self, mut v: Vec<f64>) {
        let size = v.capacity() * 8;
        if size < MIN_BYTES {
            return;
        }
        v.clear();
        if let Ok(mut p) = self.0.lock()
            && p.iter().map(|v| v.capacity() * 8).sum::<usize>() + size <= KEEP_BYTES
        {
            p.push(v);
        }
    }

    fn take(&self, n: usize) -> Option<Vec<f64>> {
        if n * 8 < MIN_BYTES {
            return None;
        }
        let mut p = self.0.lock().ok()?;
        let i = p.iter().position(|v| v.capacity() >= n && v.capacity() <= 2 * n)?;
        Some(p.swap_remove(i))
    }

    fn clear(&self) {
        if let Ok(mut p) = self.0.lock() {
            p.clear();
        }
    }
}

/// Keeps `v` for a later partial, when it is large and the pool has room.
pub(crate) fn give(v: Vec<f64>) {
    POOL.give(v);
}

/// An empty vector with room for `n` values (at most twice that, so a small partial
/// does not pin a large allocation), when the pool has one.
pub(crate) fn take(n: usize) -> Option<Vec<f64>> {
    POOL.take(n)
}

/// [`take`] for accumulators of type `A`: only `f64` ones come from the pool.
pub(crate) fn take_as<A: 'static>(n: usize) -> Option<Vec<A>> {
    if std::any::TypeId::of::<A>() != std::any::TypeId::of::<f64>() {
        return None;
    }
    let v: Box<dyn Any> = Box::new(take(n)?);
    v.downcast::<Vec<A>>().ok().map(|b| *b)
}

/// The `f64` vectors of a partial that is done, to the pool.
pub(crate) fn give_partial(p: crate::ops::Partial) {
    use crate::ops::Partial;
    match p {
        Partial::Acc(crate::dtype::Buffer::F64(v)) => give(v),
        Partial::Mean { sum, n } => {
            give(sum);
            give(n);
        }
        Partial::Moments { n, mean, m2 } => {
            give(n);
            give(mean);
            give(m2);
        }
        _ => {}
    }
}

/// Frees everything kept (the end of a graph run).
pub(crate) fn clear() {
    POOL.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_vectors_come_back_and_small_ones_do_not() {
        // A pool of its own: the global one is emptied by every graph run.
        let pool = Pool(Mutex::new(Vec::new()));
        let n = (MIN_BYTES / 8) * 3 + 17;
        let v: Vec<f64> = vec![1.0; n];
        let ptr = v.as_ptr();
        pool.give(v);
        let back = pool.take(n).expect("kept");
        assert!(back.is_empty() && back.capacity() >= n);
        assert_eq!(back.as_ptr(), ptr);
        // Far larger than asked for: stays.
        pool.give(back);
        assert!(pool.take(n / 3).is_none());
        // Too small to keep, or to ask for.
        pool.give(vec![0.0; 10]);
        assert!(pool.take(10).is_none());
        // Bounded.
        for _ in 0..KEEP_BYTES / (n * 8) + 3 {
            pool.give(vec![0.0; n]);
        }
        assert!(pool.0.lock().unwrap().iter().map(|v| v.capacity() * 8).sum::<usize>() <= KEEP_BYTES);
        pool.clear();
        assert!(pool.take(n).is_none());
        assert!(take_as::<f32>(n).is_none());
    }
}
