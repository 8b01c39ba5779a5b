//! The client's per-user log: one file `<USERID>.log` per user ID under the log
//! directory, one line per action with the time, the request and the answer.
//!
//! Lines are appended with one `write` each (the file is opened in append mode), so two
//! `cineflix` processes acting for the same user interleave whole lines. It is
//! deliberately not a tracing subscriber: it is a record for the user, not diagnostics.
//! `cineflix bench` does not write it (a load generator would only fill the disk).

use crate::outcome::{Outcome, describe_request};
use crate::userid::UserId;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct UserLog {
    dir: PathBuf,
}

impl UserLog {
    pub fn new(dir: &Path) -> UserLog {
        UserLog { dir: dir.to_owned() }
    }

    /// The file of `user` (its canonical ID is letters and digits only, so it is a safe name).
    pub fn path(&self, user: &UserId) -> PathBuf {
        self.dir.join(format!("{}.log", user.as_str()))
    }

    /// Appends one entry for an action and its answer.
    pub fn record(&self, user: &UserId, outcome: &Outcome) -> std::io::Result<()> {
        self.append(user, &format!("{} => {}", describe_request(&outcome.request), outcome.log_answer()))
    }

    /// Appends one free-form entry (session start and end in interactive mode).
    pub fn note(&self, user: &UserId, text: &str) -> std::io::Result<()> {
        self.append(user, text)
    }

    fn append(&self, user: &UserId, text: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(self.path(user))?;
        let now = jiff::Zoned::now();
        let line = format!("{} {}\n", now.strftime("%Y-%m-%d %H:%M:%S%.3f %:z"), text.replace('\n', " "));
        file.write_all(line.as_bytes())
    }
}
