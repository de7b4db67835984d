//! Line files that never hold a torn line: each write of complete lines lands whole or is
//! rolled back (the file truncated to its length before it), so an item counts as delivered
//! only once its bytes are in the file, and a tailer never reads half a record.
//!
//! Writes are plain blocking `write(2)` calls, run off the async threads by [`off_thread`]:
//! an error (a full disk, a file-size limit) is seen by the write that hit it, not by a later
//! flush, as it would be through a user-space buffer.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::WriteError;
use crate::{SinkBuildError, SinkError};

/// A file of complete lines.
pub(crate) struct LineFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl LineFile {
    /// Creates (truncates) `path`, or with `append` opens it at its end; creates its folder.
    pub(crate) fn open(path: &Path, append: bool) -> Result<Self, SinkBuildError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| SinkBuildError::Open { path: dir.to_path_buf(), error })?;
        }
        let mut o = OpenOptions::new();
        if append {
            o.create(true).append(true);
        } else {
            o.create(true).write(true).truncate(true);
        }
        let open_err = |error| SinkBuildError::Open { path: path.to_path_buf(), error };
        let file = o.open(path).map_err(open_err)?;
        let len = file.metadata().map_err(open_err)?.len();
        Ok(Self { path: path.to_path_buf(), file, len })
    }

    /// [`LineFile::open`] off the async threads.
    pub(crate) async fn open_off_thread(path: &Path, append: bool) -> Result<Self, SinkBuildError> {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || LineFile::open(&p, append))
            .await
            .map_err(|e| SinkBuildError::Open { path: path.to_path_buf(), error: std::io::Error::other(e) })?
    }

    /// Bytes of complete lines in the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `parts` (together, complete lines) as one unit: all of them, or after any
    /// error nothing, with the OS reason (`write error: No space left on device (os error 28)`).
    pub(crate) fn append(&mut self, parts: &[&[u8]]) -> Result<(), WriteError> {
        let before = self.len;
        match parts.iter().try_for_each(|p| self.file.write_all(p)) {
            Ok(()) => {
                self.len += parts.iter().map(|p| p.len() as u64).sum::<u64>();
                Ok(())
            }
            Err(error) => {
                // Back to the last complete line; the cursor too, for a file not in append mode.
                match self.file.set_len(before).and_then(|()| self.file.seek(SeekFrom::Start(before))) {
                    Ok(_) => Err(WriteError::Write(error)),
                    Err(rollback) => Err(WriteError::Rollback { error, rollback }),
                }
            }
        }
    }

    /// Flushes the file's data to the disk.
    pub(crate) fn sync(&mut self) -> Result<(), SinkError> {
        self.file.sync_all().map_err(|error| SinkError::Close { path: self.path.clone(), error })
    }
}

/// The drop reason once a file was lost (its blocking task died, or a rotation could not
/// reopen it).
pub(crate) const FILE_LOST: &str = "file closed after a failed write";

/// Runs the blocking `f` on the value in `slot`, off the async threads: the value moves to a
/// blocking thread and back. `None` when the slot is empty or the blocking task died (the
/// value is then lost, so later calls are `None` too).
pub(crate) async fn off_thread<S, R>(slot: &mut Option<S>, f: impl FnOnce(&mut S) -> R + Send + 'static) -> Option<R>
where
    S: Send + 'static,
    R: Send + 'static,
{
    let mut s = slot.take()?;
    let (s, r) = tokio::task::spawn_blocking(move || {
        let r = f(&mut s);
        (s, r)
    })
    .await
    .ok()?;
    *slot = Some(s);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_file_as_it_was() {
        let dir = std::env::temp_dir().join(format!("tsim-linefile-{}", std::process::id()));
        let path = dir.join("x.jsonl");
        let mut f = LineFile::open(&path, false).unwrap();
        f.append(&[b"one", b"\n"]).unwrap();
        assert_eq!(f.len(), 4);
        // /dev/full fails every write: swap it in to see the rollback on a real error.
        let full = OpenOptions::new().write(true).open("/dev/full");
        if let Ok(full) = full {
            let mut g = LineFile { path: path.clone(), file: full, len: 0 };
            let e = g.append(&[b"two\n"]).unwrap_err().to_string();
            assert!(e.starts_with("write error: No space left on device"), "{e}");
            assert_eq!(g.len(), 0);
        }
        f.append(&[b"three\n"]).unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\nthree\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
