//! Writing under a temporary name and renaming into place, so outputs appear complete
//! or not at all (the `.npy` writer, `to_zarr` and `to_hdf5` all stage this way).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// A hidden sibling of `target` unique to this process and call:
/// `dir/.name.chunkwise-tmp-PID-N`.
#[must_use]
pub fn temp_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.chunkwise-tmp-{}-{n}", std::process::id()))
}

/// Checks `target` can be created: its directory exists, and it does not exist unless
/// `overwrite`.
///
/// # Errors
/// [`Error::Io`] naming the missing directory or the existing target.
pub fn check_target(target: &Path, overwrite: bool) -> Result<()> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::Io {
            path: parent.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "directory does not exist"),
        });
    }
    if target.exists() && !overwrite {
        return Err(Error::Io {
            path: target.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists (set overwrite to replace it)",
            ),
        });
    }
    Ok(())
}

/// Moves the staged `tmp` to `target`, replacing what is there (a directory is moved
/// aside first and removed after, so `target` is never missing or half-written).
///
/// # Errors
/// [`Error::Io`] when a rename fails.
pub fn publish(tmp: &Path, target: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if target.is_dir() {
        let old = temp_sibling(target);
        std::fs::rename(target, &old).map_err(io(target))?;
        std::fs::rename(tmp, target).map_err(io(target))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    } else {
        std::fs::rename(tmp, target).map_err(io(target))
    }
}

/// Removes a staged file or directory, ignoring errors (it may not exist yet).
pub fn discard(tmp: &Path) {
    if tmp.is_dir() {
        let _ = std::fs::remove_dir_all(tmp);
    } else {
        let _ = std::fs::remove_file(tmp);
    }
}
