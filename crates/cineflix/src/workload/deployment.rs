//! The cluster side of `cineflix chaos` and `cineflix demo`: a private deployment started from a shipped config,
//! and an [`Observer`] that watches it (replica manager status, replica digests, new log lines), breaks it (SIGKILL
//! a replica, inject a fault, stop a replica manager with SIGSTOP) and narrates with timestamps.
//!
//! Every wait here is a bounded poll of an observed condition; nothing sleeps in place of a condition. Deliberately
//! not here: what to break when (`chaos`, `demo`) or how to judge the outcome (`history`).

use super::history::{ReplicaState, check_digests};
use cluster::Signal;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a private deployment may take to answer its first request.
pub const START_WAIT: Duration = Duration::from_secs(60);
/// SIGTERM grace before SIGKILL when the deployment stops.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often conditions are polled (a polling interval, not a settle delay).
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// One status or digest question's bound.
const QUERY_BOUND: Duration = Duration::from_millis(500);

/// A private deployment, started, with the scratch directory it lives in.
pub struct Running {
    pub deployment: cluster::PrivateDeployment,
    pub cluster: cluster::Cluster,
    pub endpoint: crate::client::Endpoint,
}

/// Relocates `template` into a fresh scratch directory named after `slug`, lets `edit` change its configuration
/// (link faults, initial replica faults), and starts it.
pub fn start(template: &Path, slug: &str, edit: impl FnOnce(&mut config::Config)) -> Result<Running, String> {
    let dir = std::env::temp_dir().join(format!("cineflix-{slug}-{}", std::process::id()));
    let mut deployment =
        cluster::PrivateDeployment::from_template(template, &dir).map_err(|error| format!("{error:#}"))?;
    edit(&mut deployment.config);
    let cluster = deployment.start(START_WAIT).map_err(|error| format!("{error:#}"))?;
    let endpoint = crate::client::Endpoint::parse(&deployment.endpoint())?;
    Ok(Running { deployment, cluster, endpoint })
}

impl Running {
    pub fn log_path(&self, file: &str) -> PathBuf {
        self.deployment.config.logs.dir.join(file)
    }

    /// The process id of replica manager `id`: the `cineflix-rm` this deployment started, checked against `/proc`
    /// (its command line still names this deployment's config and `--id N`, so an exited manager or a reused pid is
    /// an error rather than somebody else's process).
    pub fn manager_pid(&self, id: u16) -> Result<u32, String> {
        let pid = self.cluster.pid(&format!("rm{id}")).ok_or(format!("no replica manager {id} was started"))?;
        let config = self.deployment.config_path();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map_err(|error| format!("replica manager {id} (pid {pid}) is gone: {error}"))?;
        let args: Vec<&[u8]> = cmdline.split(|&byte| byte == 0).collect();
        let value_of = |flag: &str| {
            args.windows(2).find(|pair| pair[0] == flag.as_bytes()).map(|pair| String::from_utf8_lossy(pair[1]))
        };
        let ours = args.first().is_some_and(|program| String::from_utf8_lossy(program).ends_with("cineflix-rm"))
            && value_of("--id").as_deref() == Some(id.to_string().as_str())
            && value_of("--config").as_deref() == config.to_str();
        if !ours {
            return Err(format!("pid {pid} is no longer replica manager {id} of {}", config.display()));
        }
        Ok(pid)
    }

    /// Stops replica manager `id` with SIGSTOP (its replica process keeps running, unfed). The returned guard resumes
    /// it with SIGCONT when told to or, whatever happens (an error, a panic, an early return), when dropped; and should
    /// this process die first (Ctrl-C, SIGKILL), a detached watchdog resumes it `resume_by` after the stop.
    pub fn pause_manager(&self, id: u16, resume_by: Duration) -> Result<PausedManager, String> {
        let pid = self.manager_pid(id)?;
        let watchdog = spawn_watchdog(pid, resume_by)?;
        let paused = PausedManager { replica_id: id, pid, resumed: false, watchdog: Some(watchdog) };
        cluster::send_signal(pid, Signal::STOP)?;
        Ok(paused)
    }

    /// Stops every component; removes the scratch directory (config and logs) unless `keep_logs`.
    pub fn stop(mut self, keep_logs: bool) {
        self.cluster.stop(STOP_GRACE);
        if keep_logs {
            eprintln!("logs kept in {}", self.deployment.config.logs.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.deployment.dir);
        }
    }
}

/// A replica manager stopped by [`Running::pause_manager`]; never left stopped: dropping it resumes it.
#[derive(Debug)]
pub struct PausedManager {
    pub replica_id: u16,
    pub pid: u32,
    resumed: bool,
    /// `sh` that sends SIGCONT after the bound unless stopped first (see [`spawn_watchdog`]).
    watchdog: Option<std::process::Child>,
}

impl PausedManager {
    /// Whether the kernel reports the process stopped (`T` in `/proc/<pid>/stat`), i.e. the SIGSTOP took effect.
    pub fn is_stopped(&self) -> bool {
        process_state(self.pid) == Some('T')
    }

    /// Resumes the manager with SIGCONT.
    pub fn resume(mut self) -> Result<(), String> {
        self.resumed = true;
        let resumed = cluster::send_signal(self.pid, Signal::CONT);
        self.stop_watchdog();
        resumed
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            // SIGTERM, which its trap turns into ending its `sleep` too (a SIGKILL would leave the sleep behind).
            let _ = cluster::send_signal(watchdog.id(), Signal::TERM);
            let _ = watchdog.wait();
        }
    }
}

impl Drop for PausedManager {
    fn drop(&mut self) {
        if !self.resumed {
            // A failed run must not leave a stopped process behind (SIGTERM does not end a stopped process).
            let _ = cluster::send_signal(self.pid, Signal::CONT);
        }
        self.stop_watchdog();
    }
}

/// A shell that sends SIGCONT to `pid` after `resume_by`, in its own process group so that a Ctrl-C meant for this
/// program does not end it: a manager stopped by a run that died is resumed all the same (and then ends with the
/// rest of the deployment, whose signal it held pending). SIGTERM ends it with its `sleep`.
fn spawn_watchdog(pid: u32, resume_by: Duration) -> Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt as _;
    let script = format!(
        "sleep {:.3} & sleeping=$!; trap 'kill $sleeping; exit 0' TERM; wait $sleeping; kill -CONT {pid}",
        resume_by.as_secs_f64()
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start the resume watchdog: {error}"))
}

/// A process's state letter from `/proc/<pid>/stat` (`R`, `S`, `T` stopped, `Z`...); `None` if it is gone.
pub fn process_state(pid: u32) -> Option<char> {
    cluster::ProcStat::of(pid).map(|stat| stat.state)
}

/// The live members of a sequencer log line `... members live=[1, 3] high_seq=... freed_up_to=...`.
pub fn live_members(line: &str) -> Option<Vec<u16>> {
    let start = line.find("members live=[")? + "members live=[".len();
    let inside = &line[start..start + line[start..].find(']')?];
    inside.split(',').map(str::trim).filter(|id| !id.is_empty()).map(|id| id.parse().ok()).collect()
}

/// One replica as the front end sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontendView {
    pub incarnation: u64,
    pub in_vote: bool,
    /// Wrong results in a row of the current incarnation (a right one resets it).
    pub consecutive_wrong: u64,
    /// Wrong results ever counted for this replica id (all incarnations).
    pub wrong_total: u64,
}

/// Watches and breaks a running deployment, and prints what it sees with wall-clock and elapsed timestamps.
pub struct Observer {
    runtime: tokio::runtime::Runtime,
    /// Replica id → (manager address, replica control address).
    replicas: Vec<(u16, SocketAddr, SocketAddr)>,
    started: Instant,
}

impl Observer {
    pub fn new(config: &config::Config) -> Result<Observer, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start a runtime: {error}"))?;
        let replicas = config.replicas.iter().map(|replica| (replica.id, replica.manager, replica.replica.control));
        Ok(Observer { runtime, replicas: replicas.collect(), started: Instant::now() })
    }

    pub fn replica_ids(&self) -> Vec<u16> {
        self.replicas.iter().map(|(id, _, _)| *id).collect()
    }

    /// `[08:41:07.123 +12.345s] text`.
    pub fn say(&self, text: &str) {
        let now = jiff::Zoned::now();
        println!("[{} +{:>8.3}s] {text}", now.strftime("%H:%M:%S%.3f"), self.started.elapsed().as_secs_f64());
    }

    fn manager(&self, id: u16) -> Result<SocketAddr, String> {
        self.replicas
            .iter()
            .find(|(rid, _, _)| *rid == id)
            .map(|(_, manager, _)| *manager)
            .ok_or(format!("no replica {id}"))
    }

    pub fn status(&self, id: u16) -> Result<rm::status::RmStatus, String> {
        let manager = self.manager(id)?;
        self.runtime.block_on(rm::status::query_status(manager, QUERY_BOUND)).map_err(|error| error.to_string())
    }

    /// Every replica manager's status, in replica order (an unanswered one is an `Err`).
    pub fn statuses(&self) -> Vec<(u16, Result<rm::status::RmStatus, String>)> {
        self.replica_ids().into_iter().map(|id| (id, self.status(id))).collect()
    }

    pub fn inject(&self, id: u16, fault: replica_api::Fault) -> Result<u64, String> {
        let manager = self.manager(id)?;
        self.runtime
            .block_on(rm::status::inject_fault(manager, fault, Duration::from_secs(3)))
            .map_err(|error| format!("replica {id}: {error}"))
    }

    /// SIGKILLs replica `id`'s current process; returns its pid.
    pub fn kill_replica(&self, id: u16) -> Result<u32, String> {
        let status = self.status(id)?;
        if status.replica_pid == 0 {
            return Err(format!("replica {id} has no process running"));
        }
        let pid = status.replica_pid;
        cluster::send_signal(pid, Signal::KILL)?;
        Ok(pid)
    }

    /// Polls `condition` until it gives a value or `bound` passes.
    pub fn wait_for<T>(
        &self,
        what: &str,
        bound: Duration,
        mut condition: impl FnMut() -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(value) = condition() {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                return Err(format!("gave up after {:.0} s waiting for {what}", bound.as_secs_f64()));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The front end's view of replica `id` from its `GET /status`.
    pub fn frontend_view(&self, frontend: SocketAddr, id: u16) -> Option<FrontendView> {
        let body = crate::operator::http_get_status(frontend, QUERY_BOUND).ok()?;
        crate::operator::json_objects(&body, "replicas").into_iter().find_map(|replica| {
            let number = |key: &str| crate::operator::json_number(&replica, key).unwrap_or(0);
            (crate::operator::json_number(&replica, "id")? == u64::from(id)).then(|| FrontendView {
                incarnation: number("incarnation"),
                in_vote: !replica.contains("\"in_vote\":false"),
                consecutive_wrong: number("consecutive_wrong"),
                wrong_total: number("wrong"),
            })
        })
    }

    /// Every replica serving and in the vote.
    pub fn all_voting(&self) -> bool {
        self.statuses().iter().all(|(_, status)| {
            status.as_ref().is_ok_and(|status| status.in_vote && status.phase == manager::ReplicaPhase::Serving)
        })
    }

    /// One replica's `(next_expected, digest)` straight from its control address.
    pub fn replica_state(&self, id: u16) -> Result<ReplicaState, String> {
        let control = self
            .replicas
            .iter()
            .find(|(rid, _, _)| *rid == id)
            .map(|(_, _, control)| *control)
            .ok_or(format!("no replica {id}"))?;
        let state = self
            .runtime
            .block_on(rm::status::query_replica(control, QUERY_BOUND))
            .map_err(|error| format!("replica {id} did not answer a status question: {error}"))?;
        Ok(ReplicaState { replica_id: id, next_expected: state.executed_up_to + 1, digest: state.digest })
    }

    /// Waits (up to `bound`) until every replica is in the vote and all are at the same seq with the same digest;
    /// returns the last states read either way, and whether they agreed.
    pub fn converge(&self, bound: Duration) -> (Vec<ReplicaState>, bool) {
        let deadline = Instant::now() + bound;
        loop {
            let states: Vec<ReplicaState> =
                self.replica_ids().into_iter().filter_map(|id| self.replica_state(id).ok()).collect();
            let complete = states.len() == self.replicas.len();
            let agreed = complete && check_digests(&states).is_none() && self.all_voting();
            if agreed || Instant::now() >= deadline {
                return (states, agreed);
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// `replica 1 seq 123 digest 0a1b...` per replica.
    pub fn describe_states(states: &[ReplicaState]) -> Vec<String> {
        states.iter().map(ToString::to_string).collect()
    }
}

/// New lines of a growing log file (a component's own log), read from where the last call stopped.
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogTail {
    /// Tails `path` from its current end (lines written earlier are not reported).
    pub fn from_end(path: PathBuf) -> LogTail {
        let offset = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
        LogTail { path, offset, partial: String::new() }
    }

    /// The complete lines written since the last call.
    pub fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.path) else { return Vec::new() };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

/// The value of `key=` in a log line (`key=value`, up to the next space or comma).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[start..];
    Some(rest.split([' ', ',']).next().unwrap_or(rest).trim_matches('"'))
}

/// A log line without ANSI colour codes, shortened for narration.
pub fn excerpt(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let plain = plain.trim();
    if plain.chars().count() > 160 {
        format!("{}...", plain.chars().take(160).collect::<String>())
    } else {
        plain.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_and_excerpts() {
        let line = "2026-11-21T08:00:00Z WARN wrong result request_id=17 seq=40 replica=2 consecutive=3";
        assert_eq!(field(line, "replica"), Some("2"));
        assert_eq!(field(line, "consecutive"), Some("3"));
        assert_eq!(field(line, "nothing"), None);
        assert_eq!(excerpt("\u{1b}[33mWARN\u{1b}[0m x=1 "), "WARN x=1");
        let members = "2026-11-21T08:00:00Z members live=[1, 3] high_seq=4100 freed_up_to=2050";
        assert_eq!(live_members(members), Some(vec![1, 3]));
        assert_eq!(live_members("members live=[] high_seq=0"), Some(vec![]));
        assert_eq!(live_members("members live=[1, x]"), None);
        assert_eq!(live_members(line), None);
    }

    #[test]
    fn a_stopped_process_reads_as_stopped_and_its_guard_resumes_it() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // Alive and not stopped; a freshly exec'd process may still be in 'D' (loading its binary from disk).
        assert!(process_state(pid).is_some_and(|state| state != 'T'), "{:?}", process_state(pid));
        cluster::send_signal(pid, Signal::STOP).unwrap();
        let watchdog = spawn_watchdog(pid, Duration::from_secs(60)).unwrap();
        let watchdog_pid = watchdog.id();
        let paused = PausedManager { replica_id: 0, pid, resumed: false, watchdog: Some(watchdog) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !paused.is_stopped() {
            assert!(Instant::now() < deadline, "SIGSTOP did not take effect");
            std::thread::sleep(POLL_INTERVAL);
        }
        drop(paused);
        while process_state(pid) == Some('T') {
            assert!(Instant::now() < deadline, "dropping the guard did not resume the process");
            std::thread::sleep(POLL_INTERVAL);
        }
        assert_eq!(process_state(watchdog_pid), None, "the guard ends and reaps its watchdog");
        // Left alone, the watchdog resumes a stopped process by itself.
        cluster::send_signal(pid, Signal::STOP).unwrap();
        while process_state(pid) != Some('T') {
            assert!(Instant::now() < deadline, "SIGSTOP did not take effect");
            std::thread::sleep(POLL_INTERVAL);
        }
        let mut watchdog = spawn_watchdog(pid, Duration::from_millis(100)).unwrap();
        assert!(watchdog.wait().unwrap().success());
        assert_ne!(process_state(pid), Some('T'), "the watchdog resumed the process");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_state(pid), None);
    }

    #[test]
    fn a_tail_reports_only_new_complete_lines() {
        let path = std::env::temp_dir().join(format!("cineflix-tail-{}.log", std::process::id()));
        std::fs::write(&path, "old line\n").unwrap();
        let mut tail = LogTail::from_end(path.clone());
        assert!(tail.new_lines().is_empty());
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut file, b"first\nsecond wrong replica=2\nhalf").unwrap();
        assert_eq!(tail.new_lines(), vec!["first", "second wrong replica=2"]);
        std::io::Write::write_all(&mut file, b" done\n").unwrap();
        assert_eq!(tail.new_lines(), vec!["half done"]);
        std::fs::remove_file(&path).unwrap();
    }
}
