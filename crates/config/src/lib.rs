//! CineFlix configuration: one TOML file describes a whole deployment.
//!
//! Every address, port, timeout and mode lives here (replication.md, "Configuration and start-up").
//! The default file `config/cineflix.toml` is a complete cluster on loopback; the same schema describes a cluster
//! spread over several hosts (see `config/multi-host.example.toml`), each host starting only its own components.
//!
//! This crate only parses and validates; it deliberately opens no socket and starts nothing.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Problems loading a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML or does not match the schema.
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    /// The file parsed but describes something impossible.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// How the front end serves requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One replica, no sequencer, no voting: the baseline.
    #[default]
    Standalone,
    /// Sequencer, n replica managers, voting.
    Replicated,
}

/// Which failures the front end's vote tolerates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteMode {
    /// Answer once f + 1 identical results arrive (tolerates wrong answers).
    #[default]
    Software,
    /// Answer with the first result (tolerates crashes only).
    Crash,
}

/// Per-link UDP fault injection rates (probabilities 0.0..=1.0; `delay_ms` is the maximum extra random delay).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkFaults {
    pub drop: f64,
    pub duplicate: f64,
    pub reorder: f64,
    pub delay_ms: u64,
}

/// The whole deployment.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub frontend: Frontend,
    pub time: Time,
    pub logs: Logs,
    /// Fault rates applied to every UDP link of the deployment.
    pub faults: LinkFaults,
    /// The replica the front end drives in standalone mode.
    pub standalone: ReplicaAddrs,
    pub sequencer: Sequencer,
    /// One entry per replica (and its replica manager) in replicated mode.
    pub replicas: Vec<ReplicaConfig>,
    /// Timeouts and limits of replicated mode (voting, failure detection, replacement).
    pub replication: Replication,
    /// How the front end and replica processes wait for work.
    pub runtime: Runtime,
}

/// The SOAP front end.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Frontend {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// The URL clients reach the service at, written into the WSDL's soap:address. Empty: derived from the
    /// request's Host header.
    pub public_url: String,
    pub mode: Mode,
    pub vote: VoteMode,
    /// The front end's own UDP address (results from replicas come back here).
    pub udp: SocketAddr,
    /// Requests with a larger body get HTTP 413.
    pub max_body_bytes: usize,
    /// A connection that has not sent complete request headers within this time is closed.
    pub header_timeout_ms: u64,
    /// Concurrent HTTP connections beyond this wait for a free slot.
    pub max_connections: usize,
    /// A request not answered (no agreeing result) within this time gets a ServiceUnavailable fault.
    pub request_timeout_ms: u64,
    /// How long the front end waits for a replica before resending a job (standalone driver).
    pub retry_ms: u64,
    /// Replicated mode: the front end's ordering identity (`ordering::NodeId`); replica managers send a request's
    /// results to the front end whose node id submitted it. Distinct from the sequencer's and the replicas' ids.
    pub node_id: u16,
    /// Replicated mode: where replica managers send results and membership (`manager::Message`). A separate
    /// socket from `udp`, which speaks only the ordering protocol (one protocol per socket).
    pub results: SocketAddr,
}

impl Default for Frontend {
    fn default() -> Self {
        Frontend {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            public_url: String::new(),
            mode: Mode::Standalone,
            vote: VoteMode::Software,
            udp: "127.0.0.1:7100".parse().expect("literal address"),
            max_body_bytes: 1 << 20,
            header_timeout_ms: 10_000,
            max_connections: 1024,
            request_timeout_ms: 5_000,
            retry_ms: 20,
            node_id: 100,
            results: "127.0.0.1:7101".parse().expect("literal address"),
        }
    }
}

/// The theatres' clock conventions.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Time {
    /// IANA time zone that defines "today" for the theatres.
    pub zone: String,
}

impl Default for Time {
    fn default() -> Self {
        Time { zone: "America/Toronto".to_string() }
    }
}

/// Where components write their logs.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logs {
    /// Directory for every component's log file (relative paths are relative to the working directory).
    pub dir: PathBuf,
}

impl Default for Logs {
    fn default() -> Self {
        Logs { dir: PathBuf::from("var/log") }
    }
}

/// How the front end and the replica processes wait for work. The default (busy polling off) parks at once; the
/// shipped configs turn it on.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Runtime {
    /// After each request (front end) or job batch (replica), keep polling the sockets this long before parking
    /// the thread (`shell::busy_poll`); 0 parks at once. Costs otherwise idle CPU while work keeps coming.
    pub busy_poll_us: u64,
}

/// Longest `runtime.busy_poll_us` accepted: polling much longer than a request takes only burns CPU.
pub const BUSY_POLL_US_MAX: u64 = 100_000;

/// Addresses of one replica: its control address (where its driver sends jobs) and its three theatre servers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicaAddrs {
    pub control: SocketAddr,
    pub atw: SocketAddr,
    pub out: SocketAddr,
    pub ver: SocketAddr,
}

impl ReplicaAddrs {
    /// Loopback addresses for replica number `index` (0 = standalone), spaced so that none collide.
    pub fn loopback(index: u16) -> ReplicaAddrs {
        let base = 7300 + index * 10;
        let at = |offset: u16| SocketAddr::from(([127, 0, 0, 1], base + offset));
        ReplicaAddrs { control: at(0), atw: at(1), out: at(2), ver: at(3) }
    }
}

impl Default for ReplicaAddrs {
    fn default() -> Self {
        ReplicaAddrs::loopback(0)
    }
}

/// The sequencer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sequencer {
    pub addr: SocketAddr,
    /// History buffer slots (a power of two).
    pub history: usize,
    /// The sequencer's ordering identity (`ordering::NodeId`).
    pub node_id: u16,
    /// The sequencer's epoch (incarnation); a restarted sequencer must use a higher one.
    pub epoch: u64,
    /// A replica manager silent this long (no report, no NAK, not even to the probes of a full history) while its
    /// history is at least half full is dropped from the group, so a stopped manager stalls the cluster for about
    /// this long instead of until it resumes; a majority always stays. When it resumes it is rebuilt by state
    /// transfer. 0 never drops one.
    pub member_timeout_ms: u64,
}

impl Default for Sequencer {
    fn default() -> Self {
        Sequencer {
            addr: "127.0.0.1:7000".parse().expect("literal address"),
            history: 4096,
            node_id: 0,
            epoch: 1,
            member_timeout_ms: 1000,
        }
    }
}

/// An injected replica fault, for tests and demonstrations.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ReplicaFault {
    #[default]
    None,
    /// Answers with random (wrong) results.
    Lie,
    /// Exits abruptly after executing this many requests.
    CrashAfter { requests: u64 },
    /// Delays every answer by this long.
    Slow { delay_ms: u64 },
    /// Answers the next `jobs` requests wrongly, then behaves.
    LieNext { jobs: u64 },
}

/// One replica and its replica manager.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaConfig {
    /// The replica's id, which is also its replica manager's id and its ordering member's `NodeId`.
    pub id: u16,
    /// The replica manager's UDP address: messages between managers, front end reports, status and fault requests.
    pub manager: SocketAddr,
    /// The replica manager's ordering member address (the sequencer multicasts here). Absent: the port after
    /// `manager` (see [`ReplicaConfig::member_addr`]).
    #[serde(default)]
    pub member: Option<SocketAddr>,
    pub replica: ReplicaAddrs,
    /// The fault the first replica process starts with; replacements never inherit it.
    #[serde(default)]
    pub fault: ReplicaFault,
}

impl ReplicaConfig {
    /// The ordering member's address: `member`, or `manager`'s port + 1.
    pub fn member_addr(&self) -> SocketAddr {
        self.member.unwrap_or_else(|| {
            let mut addr = self.manager;
            addr.set_port(self.manager.port().wrapping_add(1));
            addr
        })
    }
}

/// Timeouts and limits of replicated mode. The defaults suit loopback.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replication {
    /// `f`: replicas that may answer wrongly at once (software-failure mode answers with `f + 1` identical results).
    pub faulty_max: usize,
    /// Consecutive wrong results after which a replica is replaced.
    pub wrong_limit: u32,
    /// Floor of the front end's crash-suspicion deadline (twice the slowest recent result time).
    pub suspect_floor_ms: u64,
    /// How many recent result times the suspicion deadline is computed over.
    pub latency_window: usize,
    /// A replica manager's probe of a suspect that is not answered within this long means "dead".
    pub probe_timeout_ms: u64,
    /// A suspect is not probed again within this long.
    pub recheck_interval_ms: u64,
    /// Verdicts older than this no longer count towards replacing a replica.
    pub verdict_ttl_ms: u64,
    /// A manager whose replica exited repeats its "dead" verdict this often until it is replaced.
    pub verdict_retry_ms: u64,
    /// Jobs fed to a replica without progress for this long are fed again (go-back-N).
    pub job_retry_ms: u64,
    /// State transfer: snapshot requests, snapshot taking and restoring are retried this often.
    pub snapshot_retry_ms: u64,
    /// A recovering replica re-enters the vote within this many seqs of the delivered stream.
    pub rejoin_lag_seqs: u64,
    /// Most ordered entries a replica manager buffers for its replica (beyond: back-pressure to the sequencer).
    pub buffer_max: usize,
    /// Replica managers repeat their replica's membership to the front end this often.
    pub announce_interval_ms: u64,
    /// Sole-donor rule: a recovering replica manager that, this long after its fresh replica started, has exactly
    /// one donor's snapshot while every other manager says its own replica is not serving, restores from that one.
    pub sole_donor_wait_ms: u64,
    /// A started replica process that does not answer a status request within this long is started again.
    pub replica_start_timeout_ms: u64,
    /// The front end asks the replica managers whose result it lacks to re-send it when a round is still
    /// undecided after this long, and again every this long until it is decided (results lost on the way back).
    pub result_resend_ms: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            faulty_max: 1,
            wrong_limit: 3,
            suspect_floor_ms: 50,
            latency_window: 1024,
            probe_timeout_ms: 200,
            recheck_interval_ms: 300,
            verdict_ttl_ms: 2_000,
            verdict_retry_ms: 300,
            job_retry_ms: 100,
            snapshot_retry_ms: 200,
            rejoin_lag_seqs: 16,
            buffer_max: 65_536,
            announce_interval_ms: 500,
            sole_donor_wait_ms: 1_000,
            replica_start_timeout_ms: 10_000,
            result_resend_ms: 50,
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|source| ConfigError::Parse { path: PathBuf::from("<text>"), source })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the schema cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |why: String| Err(ConfigError::Invalid(why));
        let faults = &self.faults;
        for (name, rate) in [("drop", faults.drop), ("duplicate", faults.duplicate), ("reorder", faults.reorder)] {
            if !(0.0..=1.0).contains(&rate) {
                return invalid(format!("faults.{name} = {rate} is not a probability in 0.0..=1.0"));
            }
        }
        if self.time.zone.trim().is_empty() {
            return invalid("time.zone must not be empty".to_string());
        }
        if self.frontend.max_body_bytes < 1024 {
            return invalid("frontend.max_body_bytes must be at least 1024".to_string());
        }
        if self.runtime.busy_poll_us > BUSY_POLL_US_MAX {
            return invalid(format!(
                "runtime.busy_poll_us = {} is above {BUSY_POLL_US_MAX} (0 turns busy polling off)",
                self.runtime.busy_poll_us
            ));
        }
        if self.frontend.max_connections == 0 {
            return invalid("frontend.max_connections must be at least 1".to_string());
        }
        if !self.sequencer.history.is_power_of_two() || self.sequencer.history < 16 {
            return invalid(format!("sequencer.history = {} must be a power of two >= 16", self.sequencer.history));
        }
        if self.frontend.mode == Mode::Replicated && !(3..=7).contains(&self.replicas.len()) {
            return invalid(format!("replicated mode needs 3 to 7 [[replicas]], found {}", self.replicas.len()));
        }
        let mut ids: Vec<u16> = self.replicas.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.replicas.len() {
            return invalid("replica ids must be unique".to_string());
        }
        if !self.replicas.is_empty() {
            let (frontend, sequencer) = (self.frontend.node_id, self.sequencer.node_id);
            if frontend == sequencer || ids.contains(&frontend) || ids.contains(&sequencer) {
                return invalid(format!(
                    "frontend.node_id ({frontend}), sequencer.node_id ({sequencer}) and the replica ids must all differ"
                ));
            }
            let mut addrs: Vec<SocketAddr> =
                self.replicas.iter().flat_map(|replica| [replica.manager, replica.member_addr()]).collect();
            addrs.extend([self.sequencer.addr, self.frontend.udp, self.frontend.results]);
            let count = addrs.len();
            addrs.sort_unstable();
            addrs.dedup();
            if addrs.len() != count {
                return invalid(
                    "the sequencer, front end (udp, results) and replica manager (manager, member) addresses must differ"
                        .to_string(),
                );
            }
        }
        let replication = &self.replication;
        if replication.wrong_limit == 0 || replication.latency_window == 0 || replication.buffer_max == 0 {
            return invalid("replication.wrong_limit, latency_window and buffer_max must be at least 1".to_string());
        }
        if self.frontend.mode == Mode::Replicated && 2 * replication.faulty_max + 1 > self.replicas.len() {
            return invalid(format!(
                "replication.faulty_max = {} needs at least {} replicas",
                replication.faulty_max,
                2 * replication.faulty_max + 1
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_loopback_default() {
        let config = Config::parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.frontend.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn shipped_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 1, "no config files found in {}", dir.display());
    }

    #[test]
    fn replicated_configs_describe_whole_clusters() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        for (file, replicas) in [("replicated.toml", 3), ("replicated-n4.toml", 4)] {
            let config = Config::load(&dir.join(file)).unwrap();
            assert_eq!(config.frontend.mode, Mode::Replicated, "{file}");
            assert_eq!(config.replicas.len(), replicas, "{file}");
            assert!(config.replicas.iter().all(|replica| replica.fault == ReplicaFault::None), "{file}");
        }
    }

    #[test]
    fn member_address_defaults_to_the_port_after_the_manager() {
        let text = "[[replicas]]\nid = 1\nmanager = \"127.0.0.1:7210\"\nfault = { kind = \"crash_after\", requests = 5 }\n\
                    [replicas.replica]\ncontrol = \"127.0.0.1:7310\"";
        let config = Config::parse(text).unwrap();
        assert_eq!(config.replicas[0].member_addr().to_string(), "127.0.0.1:7211");
        assert_eq!(config.replicas[0].fault, ReplicaFault::CrashAfter { requests: 5 });
        assert_eq!(config.replication, Replication::default());
    }

    #[test]
    fn rejects_bad_values() {
        for (text, needle) in [
            ("[faults]\ndrop = 1.5", "faults.drop"),
            ("[sequencer]\nhistory = 100", "power of two"),
            ("[frontend]\nmode = \"replicated\"", "3 to 7"),
            ("[frontend]\nlisten = \"nonsense\"", "invalid"),
            ("[frontend]\nunknown_key = 1", "unknown"),
            ("[replication]\nwrong_limit = 0", "wrong_limit"),
            ("[runtime]\nbusy_poll_us = 100001", "runtime.busy_poll_us"),
            (
                "[[replicas]]\nid = 100\nmanager = \"127.0.0.1:1\"\n[replicas.replica]\ncontrol = \"127.0.0.1:2\"",
                "node_id",
            ),
            (
                "[[replicas]]\nid = 1\nmanager = \"127.0.0.1:1\"\nmember = \"127.0.0.1:1\"\n[replicas.replica]\ncontrol = \"127.0.0.1:2\"",
                "must differ",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?} gave {err:?}, expected it to mention {needle:?}");
        }
    }
}
