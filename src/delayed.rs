//! Custom graphs: Rust closures as lazy tasks (the role of `dask.delayed`).
//!
//! Some work fits no array operation — a grid search, a model fit per region, a
//! summary that combines several arrays' blocks. A [`Delayed<T>`] is a lazy value of
//! type `T` produced by a closure from other delayed values and array blocks. It is
//! run by the same schedulers as arrays, with the same priorities, release of
//! intermediates as soon as their last consumer ran, and error reporting (a failing
//! closure aborts the run, naming the task).
//!
//! ```
//! use chunkwise::{delayed, gather, Runtime};
//! let xs: Vec<_> = (0..4).map(|i| delayed("load", move || Ok(i as f64))).collect();
//! let sq: Vec<_> = xs.iter().map(|x| x.then("square", |v| Ok(v * v))).collect();
//! let total = gather(&sq, "total", |v| Ok(v.iter().copied().sum::<f64>()));
//! assert_eq!(Runtime::global().compute_delayed(&total).unwrap(), 14.0);
//! ```

use crate::array::Array;
use crate::chunk::Value;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{CustomDep, CustomNode};
use std::marker::PhantomData;
use std::sync::Arc;

/// A lazy value of type `T`.
#[must_use = "delayed values are lazy and do nothing unless computed"]
pub struct Delayed<T> {
    node: Arc<CustomNode>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delayed({})", self.node.name)
    }
}

/// The typed value inside a task output.
///
/// # Errors
/// [`Error::Custom`] when the value is not a `T` (a bug in a hand-built graph).
pub fn downcast<T: 'static>(v: &Value) -> Result<&T> {
    match v {
        Value::Any(a) => a
            .downcast_ref::<T>()
            .ok_or_else(|| Error::msg(format!("custom task input is not a {}", std::any::type_name::<T>()))),
        _ => Err(Error::msg("custom task input is an array block, not a delayed value")),
    }
}

fn node<T: Send + Sync + 'static>(
    name: &str,
    deps: Vec<CustomDep>,
    f: impl Fn(&[&Value]) -> Result<T> + Send + Sync + 'static,
) -> Delayed<T> {
    let f = move |vals: &[&Value]| -> Result<Value> { Ok(Value::Any(Arc::new(f(vals)?))) };
    Delayed {
        node: Arc::new(CustomNode {
            name: name.to_string(),
            f: Box::new(f),
            deps,
        }),
        _t: PhantomData,
    }
}

/// A lazy value computed by `f` with no inputs.
pub fn delayed<T: Send + Sync + 'static>(name: &str, f: impl Fn() -> Result<T> + Send + Sync + 'static) -> Delayed<T> {
    node(name, Vec::new(), move |_| f())
}

/// A lazy value computed from all of `items`.
pub fn gather<T: Send + Sync + 'static, U: Send + Sync + 'static>(
    items: &[Delayed<T>],
    name: &str,
    f: impl Fn(&[&T]) -> Result<U> + Send + Sync + 'static,
) -> Delayed<U> {
    let deps = items.iter().map(|d| CustomDep::Node(d.node.clone())).collect();
    node(name, deps, move |vals| {
        let typed: Vec<&T> = vals.iter().map(|v| downcast::<T>(v)).collect::<Result<_>>()?;
        f(&typed)
    })
}

impl<T: Send + Sync + 'static> Delayed<T> {
    /// The task node (for lowering).
    #[must_use]
    pub fn node(&self) -> &Arc<CustomNode> {
        &self.node
    }

    /// A lazy value computed from this one.
    pub fn then<U: Send + Sync + 'static>(
        &self,
        name: &str,
        f: impl Fn(&T) -> Result<U> + Send + Sync + 'static,
    ) -> Delayed<U> {
        node(name, vec![CustomDep::Node(self.node.clone())], move |vals| {
            f(downcast::<T>(vals[0])?)
        })
    }

    /// A lazy value computed from this one and another.
    pub fn zip<U: Send + Sync + 'static, V: Send + Sync + 'static>(
        &self,
        other: &Delayed<U>,
        name: &str,
        f: impl Fn(&T, &U) -> Result<V> + Send + Sync + 'static,
    ) -> Delayed<V> {
        let deps = vec![CustomDep::Node(self.node.clone()), CustomDep::Node(other.node.clone())];
        node(name, deps, move |vals| {
            f(downcast::<T>(vals[0])?, downcast::<U>(vals[1])?)
        })
    }
}

impl Array {
    /// A lazy value computed by `f` from block `lin` (C order) of this array, which it
    /// borrows without copying (the store driver writes blocks this way; a benchmark can
    /// measure a read-and-decode-only pass with it).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a block number outside the grid.
    pub fn block_then<T: Send + Sync + 'static>(
        &self,
        lin: usize,
        name: &str,
        f: impl Fn(&crate::chunk::Chunk) -> Result<T> + Send + Sync + 'static,
    ) -> Result<Delayed<T>> {
        if lin >= self.num_blocks() {
            return Err(Error::InvalidArgument(format!(
                "block {lin} is outside the grid of {} blocks",
                self.num_blocks()
            )));
        }
        Ok(node(name, vec![CustomDep::Block(self.clone(), lin)], move |vals| {
            f(vals[0].as_chunk()?)
        }))
    }

    /// One block of this array as a lazy ndarray, for custom graphs.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a block index outside the grid;
    /// [`Error::DTypeMismatch`] when `T` is not the array's dtype.
    pub fn block_delayed<T: Element>(&self, block: &[usize]) -> Result<Delayed<ndarray::ArrayD<T>>> {
        let nb = self.grid().nblocks();
        if block.len() != nb.len() || block.iter().zip(&nb).any(|(&b, &n)| b >= n) {
            return Err(Error::InvalidArgument(format!(
                "block {block:?} is outside the block grid {nb:?}"
            )));
        }
        if T::DTYPE != self.dtype() {
            return Err(Error::DTypeMismatch {
                requested: T::DTYPE,
                actual: self.dtype(),
            });
        }
        let lin = self.grid().linear(block);
        Ok(node(
            &format!("block {block:?}"),
            vec![CustomDep::Block(self.clone(), lin)],
            |vals| vals[0].as_chunk()?.to_ndarray::<T>(),
        ))
    }
}
