//! Writing a report file so that a reader only ever sees a whole one.
//!
//! Owns the temporary file beside the destination (same folder, so the final `rename` is
//! atomic), the optional size limit, `fsync` of the file and of its folder, and cleaning
//! up after a failure. It must never leave a partial file where a good one was, never
//! replace a good file with an unfinished one, and never write outside the destination's
//! folder.
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written to a temporary name; [`AtomicFile::commit`] moves it into place.
/// Dropped without a commit, the temporary file is removed and the destination untouched.
pub struct AtomicFile {
    destination: PathBuf,
    temporary: PathBuf,
    writer: Option<BufWriter<Limited>>,
    /// Set once the temporary file has been renamed into place; until then, dropping removes it.
    committed: bool,
}

impl AtomicFile {
    /// Start writing `destination`. With `limit`, writing more than that many bytes fails as
    /// a full disk would (`StorageFull`), so a runaway report can't fill the disk.
    pub fn create(destination: &Path, limit: Option<u64>) -> Result<AtomicFile> {
        let folder = folder_of(destination);
        let name = destination
            .file_name()
            .ok_or_else(|| Error::invalid(format!("{} names a folder, not a report file", destination.display())))?
            .to_string_lossy()
            .into_owned();
        let temporary = folder.join(format!(".{name}.{}.partial", uuid::Uuid::new_v4().simple()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| io_error(e, "cannot create a report file in", &folder))?;
        Ok(AtomicFile {
            destination: destination.to_path_buf(),
            temporary,
            writer: Some(BufWriter::with_capacity(256 * 1024, Limited { file, written: 0, limit })),
            committed: false,
        })
    }

    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// The folder the destination (and so the temporary file) lives in.
    pub fn folder(&self) -> PathBuf {
        folder_of(&self.destination)
    }

    /// Flush, `fsync`, rename over the destination and `fsync` the folder. Returns the size.
    /// If any of that fails (the last buffer doesn't fit on the disk), the temporary file is
    /// removed as on a drop.
    pub fn commit(mut self) -> Result<u64> {
        let writer = self.writer.take().ok_or_else(|| Error::internal("report file committed twice"))?;
        let limited = writer.into_inner().map_err(|e| io_error(e.into_error(), "cannot write", &self.destination))?;
        limited.file.sync_all().map_err(|e| io_error(e, "cannot write", &self.destination))?;
        let size = limited.written;
        drop(limited);
        std::fs::rename(&self.temporary, &self.destination)
            .map_err(|e| io_error(e, "cannot move the finished report to", &self.destination))?;
        self.committed = true;
        // The rename itself must survive a crash: sync the folder's entry too.
        if let Ok(dir) = File::open(self.folder()) {
            let _ = dir.sync_all();
        }
        Ok(size)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("report file already committed")),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.write_all(buf),
            None => Err(io::Error::other("report file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            drop(self.writer.take());
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// The file under the buffer, counting bytes against the optional limit.
struct Limited {
    file: File,
    written: u64,
    limit: Option<u64>,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.limit {
            if self.written + buf.len() as u64 > limit {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!("no space left for the report: it outgrew its size limit of {limit} bytes"),
                ));
            }
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An I/O failure as a sentence naming the file; a full disk says so plainly.
pub fn io_error(e: io::Error, doing: &str, path: &Path) -> Error {
    let what = match e.kind() {
        io::ErrorKind::StorageFull => format!("{doing} {}: the disk is full ({e})", path.display()),
        io::ErrorKind::PermissionDenied => format!("{doing} {}: permission denied", path.display()),
        io::ErrorKind::NotFound => format!("{doing} {}: the folder does not exist", path.display()),
        _ => format!("{doing} {}: {e}", path.display()),
    };
    Error::invalid(what).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_file_leaves_the_good_one_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "good").unwrap();
        {
            let mut f = AtomicFile::create(&path, None).unwrap();
            f.write_all(b"half a rep").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "good");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");

        let mut f = AtomicFile::create(&path, None).unwrap();
        f.write_all(b"new report").unwrap();
        assert_eq!(f.commit().unwrap(), 10);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new report");
    }

    #[test]
    fn the_limit_fails_like_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let mut f = AtomicFile::create(&path, Some(1000)).unwrap();
        let e = (0..100).try_for_each(|_| f.write_all(&[b'x'; 100]).and_then(|_| f.flush())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        drop(f);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_commit_that_runs_out_of_space_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.html");
        std::fs::write(&path, "good").unwrap();
        let mut f = AtomicFile::create(&path, Some(10)).unwrap();
        // Still in the buffer: only the final flush inside commit finds the disk full.
        f.write_all(&[b'x'; 100]).unwrap();
        let e = f.commit().unwrap_err();
        assert!(e.message.contains("disk is full"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "good");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }
}
