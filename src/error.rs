//! The one error type of the crate.
//!
//! Every fallible public function returns [`Result<T>`]. Variants are grouped by who
//! can fix the problem: the caller's arguments (shapes, axes, dtypes), the data
//! (a file, a chunk), or the engine (a task that failed while running). A task
//! failure wraps the underlying error with the task's name and chunk index, so a
//! message reads like `task reduce-partial sum (block [3, 0]) failed: ...`.
//!
//! Messages are one line and name the thing at fault; the CLI prints them as is.

use crate::dtype::DType;
use std::path::PathBuf;

/// Errors from building or computing chunked arrays.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- the caller's arguments -----
    /// An axis index outside `-ndim..ndim`.
    #[error("axis {axis} is out of range for an array of {ndim} dimension(s)")]
    AxisOutOfRange {
        /// The axis as given (negative axes count from the end).
        axis: isize,
        /// The array's number of dimensions.
        ndim: usize,
    },
    /// An axis named twice in one call.
    #[error("axis {0} is repeated")]
    DuplicateAxis(usize),
    /// Shapes that NumPy broadcasting cannot reconcile.
    #[error("shapes {a:?} and {b:?} cannot be broadcast together")]
    Broadcast {
        /// The first shape.
        a: Vec<usize>,
        /// The second shape.
        b: Vec<usize>,
    },
    /// A chunk specification that does not fit the shape.
    #[error("invalid chunks: {0}")]
    InvalidChunks(String),
    /// A typed result requested with the wrong element type.
    #[error("type mismatch: requested {requested} but the array holds {actual}")]
    DTypeMismatch {
        /// The type asked for.
        requested: DType,
        /// The array's type.
        actual: DType,
    },
    /// A reduction with no identity over an empty selection (`min` of nothing).
    #[error("{op} of an empty selection: a zero-size reduction has no identity")]
    EmptyReduction {
        /// The reduction's name.
        op: &'static str,
    },
    /// An argument with a value the operation does not accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An operation not defined for this dtype or arrangement.
    #[error("unsupported: {0}")]
    Unsupported(String),

    // ----- the data -----
    /// A value-dependent failure found while computing (an all-NaN `nanargmin` slice).
    #[error("{0}")]
    Value(String),
    /// An operating-system error on a path.
    #[error("{path}: {}", os_text(source))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A storage format problem (invalid metadata, a corrupt chunk), with its context.
    #[error("{0}")]
    Format(String),

    // ----- the engine -----
    /// A task failed while running; the graph run was aborted.
    #[error("task {task} failed: {source}")]
    Task {
        /// The task's kind and chunk index.
        task: String,
        /// The underlying error.
        #[source]
        source: Box<Error>,
    },
    /// A user closure in a custom graph returned an error.
    #[error("{0}")]
    Custom(String),
    /// A worker thread panicked; the message is the panic payload.
    #[error("a task panicked: {0}")]
    Panic(String),
    /// A computation needs more memory at once than the budget allows; found before any
    /// task ran.
    #[error(
        "memory limit of {} is too small: {what} needs {} at once; a limit of at least {} would work",
        crate::bytesize::format_size(*limit),
        crate::bytesize::format_size(*needs),
        crate::bytesize::format_size(*suggest)
    )]
    MemoryLimit {
        /// What needs it: the largest task, or the whole graph run one task at a time.
        what: String,
        /// Its bytes.
        needs: usize,
        /// The budget.
        limit: usize,
        /// The smallest budget every task fits in (rounded up to a MiB).
        suggest: usize,
    },
    /// NVRTC could not be loaded or refused a kernel program (its log is included).
    #[error("CUDA kernel compilation: {0}")]
    KernelCompile(String),
    /// A CUDA driver call failed, or a GPU is missing or out of its memory limit.
    #[error("CUDA: {0}")]
    Cuda(String),
    /// The CUDA backend was requested but the crate was built without the `cuda` feature.
    #[error("CUDA support was not compiled in (rebuild with --features cuda)")]
    CudaNotCompiled,
}

/// Shorthand for `std::result::Result<T, chunkwise::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A custom error from anything printable (for closures in custom graphs).
    pub fn msg(m: impl std::fmt::Display) -> Self {
        Error::Custom(m.to_string())
    }

    /// The innermost error, below any task wrappers.
    #[must_use]
    pub fn root(&self) -> &Error {
        match self {
            Error::Task { source, .. } => source.root(),
            e => e,
        }
    }
}

/// What the OS said, as the one-line errors put it: "no such file or directory", not
/// "No such file or directory (os error 2)".
fn os_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => {
            let mut chars = text[..i].chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
        }
        _ => text,
    }
}
