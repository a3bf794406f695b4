//! `apply`'s stdout when it is not a terminal: lines are gathered and written with one
//! `write` per batch instead of one per line (at 10,000 change orders that was 10,000 system
//! calls, a fifth of the process's `write`s), and a line is written only once the journal
//! records queued before it are durable, so a line saying a change order was aborted never
//! reaches a file or a pipe before the record that says so is on disk. A batch goes out after
//! each journal sync ([`Durability`]'s count changes), and everything left goes out when the
//! reporter is dropped at the end of the run, or before a second stop signal exits the
//! process ([`write_all_pending`]). On a terminal `apply` writes each line at once instead:
//! a person watching wants it now.
//!
//! One process-wide batch, since stdout is one per process.

use crate::apply::journal_writer::Durability;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Lines not yet written, and how many journal records must be durable before each may be.
struct Batch {
    bytes: Vec<u8>,
    /// (end of a line in `bytes`, records queued when it was written), in order; the counts
    /// never decrease, so the lines that may go out are always a prefix.
    lines: VecDeque<(usize, u64)>,
}

static PENDING: Mutex<Batch> = Mutex::new(Batch {
    bytes: Vec::new(),
    lines: VecDeque::new(),
});

fn pending() -> std::sync::MutexGuard<'static, Batch> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Batch {
    /// Takes the lines whose records are durable (all of them when `durable` is `None`).
    fn take_ready(&mut self, durable: Option<u64>) -> Vec<u8> {
        let end = match durable {
            None => self.bytes.len(),
            Some(durable) => {
                let mut end = 0;
                while let Some(&(line_end, needs)) = self.lines.front() {
                    if needs > durable {
                        break;
                    }
                    end = line_end;
                    self.lines.pop_front();
                }
                end
            }
        };
        if durable.is_none() {
            self.lines.clear();
        }
        let rest = self.bytes.split_off(end);
        for (line_end, _) in &mut self.lines {
            *line_end -= end;
        }
        std::mem::replace(&mut self.bytes, rest)
    }
}

/// Writes `bytes` to stdout; a closed stdout (`| head`) must not stop the run: the journal
/// is the record.
fn write_out(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

/// Writes every line still held, durable or not. For the end of the run and for an exit on
/// a second stop signal, when nothing later could write them.
pub(crate) fn write_all_pending() {
    let ready = pending().take_ready(None);
    write_out(&ready);
}

/// A [`Write`] for the apply reporters: gathers lines into the process's batch, each held
/// until the journal records queued before it are durable. Writes happen on journal syncs
/// (the task [`BatchedStdout::new`] starts) and when the last handle is dropped; `flush`
/// does not force a write, since the reporters flush after every line.
pub(crate) struct BatchedStdout {
    durability: Arc<Durability>,
    /// Shared by the clones; the last one dropped stops the task and writes what is left.
    guard: Arc<Guard>,
}

struct Guard {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
        write_all_pending();
    }
}

impl BatchedStdout {
    /// Must be called inside a tokio runtime: starts the task that writes each batch once a
    /// journal sync makes its lines' records durable.
    pub(crate) fn new(durability: Arc<Durability>) -> Self {
        let mut synced = durability.subscribe();
        let task = tokio::spawn(async move {
            while synced.changed().await.is_ok() {
                let durable = *synced.borrow_and_update();
                let ready = pending().take_ready(Some(durable));
                write_out(&ready);
            }
        });
        Self {
            durability,
            guard: Arc::new(Guard { task }),
        }
    }
}

impl Clone for BatchedStdout {
    fn clone(&self) -> Self {
        Self {
            durability: Arc::clone(&self.durability),
            guard: Arc::clone(&self.guard),
        }
    }
}

impl Write for BatchedStdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut batch = pending();
        batch.bytes.extend_from_slice(bytes);
        if bytes.ends_with(b"\n") {
            let needs = self.durability.queued();
            let end = batch.bytes.len();
            match batch.lines.back_mut() {
                // Lines that need the same records share one entry.
                Some(last) if last.1 == needs => last.0 = end,
                _ => batch.lines.push_back((end, needs)),
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `apply`'s stdout: each line at once on a terminal, batched otherwise.
#[derive(Clone)]
pub(crate) enum ApplyStdout {
    Terminal,
    Batched(BatchedStdout),
}

impl ApplyStdout {
    /// Batched unless stdout is a terminal. Must be called inside a tokio runtime.
    pub(crate) fn new(durability: &Arc<Durability>) -> Self {
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            Self::Terminal
        } else {
            Self::Batched(BatchedStdout::new(Arc::clone(durability)))
        }
    }
}

impl Write for ApplyStdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Terminal => std::io::stdout().write(bytes),
            Self::Batched(batched) => batched.write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Terminal => std::io::stdout().write_all(bytes),
            Self::Batched(batched) => batched.write_all(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Terminal => std::io::stdout().flush(),
            Self::Batched(batched) => batched.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_lines_whose_records_are_durable_are_taken_in_order() {
        let mut batch = Batch {
            bytes: Vec::new(),
            lines: VecDeque::new(),
        };
        for (line, needs) in [("a\n", 0), ("b\n", 2), ("c\n", 2), ("d\n", 5)] {
            batch.bytes.extend_from_slice(line.as_bytes());
            batch.lines.push_back((batch.bytes.len(), needs));
        }
        assert_eq!(batch.take_ready(Some(1)), b"a\n");
        assert_eq!(batch.take_ready(Some(1)), b"");
        assert_eq!(batch.take_ready(Some(4)), b"b\nc\n");
        batch.bytes.extend_from_slice(b"partial");
        assert_eq!(batch.take_ready(Some(5)), b"d\n");
        assert_eq!(batch.take_ready(None), b"partial");
        assert!(batch.lines.is_empty());
    }
}
