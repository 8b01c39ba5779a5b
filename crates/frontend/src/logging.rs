//! The front end's log file `<logs.dir>/frontend.log`, written through `tracing`.
//!
//! Lines are formatted by tracing-subscriber's `fmt` layer into a buffered file behind a mutex. The buffer is
//! flushed by a small background thread every [`FLUSH_INTERVAL`] and when the [`LogGuard`] is dropped, so a log
//! line costs a format and a memory copy, not a system call. That matters because the standalone driver writes
//! one info line per job (`job=<id> op=<operation> code=<result> us=<latency>`), which makes every request's job
//! id findable in the log; at the target load that is about 25,000 lines a second.
//!
//! This module deliberately configures nothing else (no stdout logging, no rotation). The level comes from
//! `RUST_LOG` (default `info`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How often buffered log lines reach the file at the latest.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Buffer size of the log file writer.
const BUFFER_BYTES: usize = 64 * 1024;

/// Keeps the log file open; dropping it flushes what is buffered. Hold it for the life of the program.
#[derive(Debug)]
pub struct LogGuard {
    /// The shared buffered file; the flusher thread holds only a weak reference and ends when this is dropped.
    file: Arc<Mutex<BufWriter<File>>>,
    /// Where the log goes, for messages to the operator.
    path: PathBuf,
}

impl LogGuard {
    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = self.file.lock().unwrap_or_else(PoisonError::into_inner).flush();
    }
}

/// A `MakeWriter` over the shared buffered file.
#[derive(Clone, Debug)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

/// One event's writer: holds the lock while tracing writes the formatted line.
struct LockedFile<'a>(std::sync::MutexGuard<'a, BufWriter<File>>);

impl Write for LockedFile<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        // Flushing per event would be a system call per line; the flusher thread does it periodically.
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = LockedFile<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LockedFile(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Opens (appending) `<dir>/frontend.log`, creating `dir` if needed, and installs it as the global `tracing`
/// subscriber. Fails if the file cannot be opened or a global subscriber is already installed.
pub fn init_file_logging(dir: &Path) -> io::Result<LogGuard> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("frontend.log");
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let file = Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER_BYTES, file)));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SharedFile(Arc::clone(&file)))
        .with_ansi(false)
        .with_target(false)
        .try_init()
        .map_err(|error| io::Error::other(format!("cannot install the log subscriber: {error}")))?;
    let weak: Weak<Mutex<BufWriter<File>>> = Arc::downgrade(&file);
    std::thread::Builder::new().name("frontend-log-flush".to_string()).spawn(move || {
        loop {
            std::thread::sleep(FLUSH_INTERVAL);
            let Some(file) = weak.upgrade() else { break };
            let _ = file.lock().unwrap_or_else(PoisonError::into_inner).flush();
        }
    })?;
    Ok(LogGuard { file, path })
}
