//! The replica manager's audit log: one line per `manager::Audit` event, plus the shell's own events (replica
//! processes spawned and exited, snapshots taken and restored, faults injected), buffered and flushed periodically.
//!
//! With the sequencer's log (`seq` ↔ `request_id`) and the front end's, an auditor can follow one request through
//! the system; replacement lines carry the time since the replacement started, so state transfer can be timed.
//!
//! Deliberately not here: deciding what to log (the manager core emits `Audit`; the node adds process events).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use manager::Audit;

/// An open, buffered audit log.
#[derive(Debug)]
pub struct AuditLog {
    out: BufWriter<File>,
    /// When the replacement in progress started (clock ms), for the elapsed times of its later steps.
    replacement_started_ms: Option<u64>,
}

impl AuditLog {
    /// Opens `path` for appending (creating its directory): a restarted RM keeps the earlier lines.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog { out: BufWriter::with_capacity(1 << 16, file), replacement_started_ms: None })
    }

    /// Writes one line: the wall-clock time, then `text`.
    pub fn line(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{} {text}", jiff::Timestamp::now());
    }

    /// Writes the line for a core event; `now_ms` is the node's clock.
    pub fn audit(&mut self, now_ms: u64, audit: &Audit) {
        let since = |started: Option<u64>| started.map_or(0, |at| now_ms.saturating_sub(at));
        match audit {
            Audit::Delivered { seq, request_id } => {
                self.line(format_args!("delivered seq={seq} request_id={request_id}"))
            }
            Audit::ResultSent { seq, request_id } => {
                self.line(format_args!("result seq={seq} request_id={request_id}"))
            }
            Audit::WrongReported { replica_id, seq, request_id, consecutive } => self.line(format_args!(
                "wrong_reported replica_id={replica_id} seq={seq} request_id={request_id} consecutive={consecutive}"
            )),
            Audit::Suspected { replica_id, seq, request_id } => {
                self.line(format_args!("suspected replica_id={replica_id} seq={seq} request_id={request_id}"))
            }
            Audit::Verdict { from, suspect, incarnation, alive } => {
                self.line(format_args!("verdict from={from} suspect={suspect} incarnation={incarnation} alive={alive}"))
            }
            Audit::ReplacementStarted { incarnation, reason } => {
                self.replacement_started_ms = Some(now_ms);
                self.line(format_args!("replacement_started incarnation={incarnation} reason={reason:?}"))
            }
            Audit::ReplicaStarted { incarnation } => {
                let elapsed_ms = since(self.replacement_started_ms);
                self.line(format_args!("replica_started incarnation={incarnation} elapsed_ms={elapsed_ms}"))
            }
            Audit::ReplicaExited { incarnation } => self.line(format_args!("replica_exited incarnation={incarnation}")),
            Audit::SnapshotServed { seq, to } => self.line(format_args!("snapshot_served seq={seq} to={to}")),
            Audit::SnapshotAgreed { seq, digest } => {
                let elapsed_ms = since(self.replacement_started_ms);
                let digest: String = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
                self.line(format_args!("snapshot_agreed seq={seq} digest={digest} elapsed_ms={elapsed_ms}"))
            }
            Audit::SoleDonorRestore { seq, donor, digest } => {
                let elapsed_ms = since(self.replacement_started_ms);
                let digest: String = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
                self.line(format_args!(
                    "sole_donor_restore seq={seq} donor={donor} digest={digest} elapsed_ms={elapsed_ms} (no second \
                     donor: every other replica is being replaced)"
                ))
            }
            Audit::Rejoined { incarnation, seq } => {
                let elapsed_ms = since(self.replacement_started_ms.take());
                self.line(format_args!("rejoined incarnation={incarnation} seq={seq} elapsed_ms={elapsed_ms}"))
            }
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
