//! Where log lines go. Editors show every stderr line of a language server as an error,
//! so while a log file is set (`CODEX_LSP_LOG_FILE`, or the `logFile` setting at any
//! time), stderr carries warnings and errors only and the file gets everything the
//! `CODEX_LSP_LOG` filter lets through. Without a file, stderr gets everything.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The log file, if any: `(path, file)`.
static FILE: Mutex<Option<(String, File)>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<(String, File)>> {
    crate::sync::lock(&FILE)
}

/// Logs to `path` from now on (appending), or to no file for `None`. Opening the same
/// path again keeps the open file. On error the previous file stays.
pub fn set_file(path: Option<&str>) -> Result<(), String> {
    let mut cur = lock();
    match path {
        None => *cur = None,
        Some(p) if cur.as_ref().is_some_and(|(c, _)| c == p) => {}
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("cannot open {p} for writing: {e}"))?;
            *cur = Some((p.to_owned(), f));
        }
    }
    Ok(())
}

/// The file logs go to now, if any.
pub fn current_file() -> Option<String> {
    lock().as_ref().map(|(p, _)| p.clone())
}

/// The `MakeWriter` of the process's subscriber: stderr and/or the file, per event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Targets;

/// One event's writer.
pub struct EventWriter {
    stderr: bool,
    file: bool,
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file
            && let Some((_, f)) = lock().as_mut()
        {
            // a full disk must not take the server down
            let _ = f.write_all(buf);
        }
        if self.stderr {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.file
            && let Some((_, f)) = lock().as_mut()
        {
            let _ = f.flush();
        }
        if self.stderr {
            std::io::stderr().flush()?;
        }
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Targets {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        let file = lock().is_some();
        EventWriter { stderr: true, file }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> EventWriter {
        route(*meta.level())
    }
}

fn route(level: Level) -> EventWriter {
    let file = lock().is_some();
    EventWriter {
        // `WARN` and `ERROR` compare as at most `WARN` (more severe is smaller)
        stderr: !file || level <= Level::WARN,
        file,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_takes_the_detail_and_stderr_keeps_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let p = p.to_str().unwrap();
        set_file(Some(p)).unwrap();
        assert_eq!(current_file().as_deref(), Some(p));
        let w = route(Level::INFO);
        assert!(w.file && !w.stderr, "detail goes to the file only");
        let w = route(Level::WARN);
        assert!(w.file && w.stderr, "a warning goes to both");
        let bad = dir.path().join("no/such/dir/b.log");
        assert!(set_file(bad.to_str()).is_err());
        assert_eq!(
            current_file().as_deref(),
            Some(p),
            "a bad path keeps the file"
        );
        set_file(None).unwrap();
        let w = route(Level::DEBUG);
        assert!(
            !w.file && w.stderr,
            "without a file, stderr gets everything"
        );
    }
}
