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
}

impl Default for Sequencer {
    fn default() -> Self {
        Sequencer { addr: "127.0.0.1:7000".parse().expect("literal address"), history: 4096 }
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
}

/// One replica and its replica manager.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaConfig {
    pub id: u16,
    /// The replica manager's UDP address.
    pub manager: SocketAddr,
    pub replica: ReplicaAddrs,
    #[serde(default)]
    pub fault: ReplicaFault,
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
    fn rejects_bad_values() {
        for (text, needle) in [
            ("[faults]\ndrop = 1.5", "faults.drop"),
            ("[sequencer]\nhistory = 100", "power of two"),
            ("[frontend]\nmode = \"replicated\"", "3 to 7"),
            ("[frontend]\nlisten = \"nonsense\"", "invalid"),
            ("[frontend]\nunknown_key = 1", "unknown"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?} gave {err:?}, expected it to mention {needle:?}");
        }
    }
}
