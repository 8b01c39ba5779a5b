//! Starts, watches and stops the processes of a CineFlix deployment on this host.
//!
//! `run/up` uses it to bring up the default loopback system; system tests and graders use it to start a local
//! cluster they can kill parts of. It only manages processes: it deliberately knows nothing of booking or the
//! ordering protocol. Readiness is "the front end answers `GET ?wsdl`" and then "one real request goes all the way
//! through" (a literal SOAP `getBookingSchedule` envelope POSTed over a plain TCP connection, answered 200): in
//! replicated mode that means the sequencer, a majority of replica managers and their replicas are up.
//!
//! Standalone mode starts `cineflix-replica` then `cineflix-frontend`; replicated mode starts `cineflix-sequencer`,
//! one `cineflix-rm --id N` per `[[replicas]]` entry (each RM starts and supervises its own `cineflix-replica`),
//! then `cineflix-frontend`. Component names: `replica`, `sequencer`, `rm<N>`, `frontend`; a replicated replica's
//! process is found as the `cineflix-replica` child of `rm<N>` ([`Cluster::replica_pid`]).

mod private;

pub use private::{PrivateDeployment, ephemeral_ports, relocate};
pub use rustix::process::Signal;

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One started component.
#[derive(Debug)]
pub struct Component {
    /// Human name used in messages, e.g. `replica` or `frontend`.
    pub name: String,
    /// The running process; killed when the [`Cluster`] is dropped.
    pub child: Child,
}

/// The processes of one deployment. Dropping it stops them all (SIGTERM, then SIGKILL after a grace period).
#[derive(Debug)]
pub struct Cluster {
    components: Vec<Component>,
    /// Where the front end serves its WSDL.
    pub wsdl_url: String,
    /// Each component's main address, by component name (for printing).
    pub addresses: Vec<(String, String)>,
}

/// Finds a sibling binary of the running executable (all CineFlix binaries build into one target directory).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate the running executable")?;
    let dir = me.parent().context("executable has no parent directory")?;
    // Integration tests run from target/<profile>/deps; binaries live one level up.
    for candidate in [dir.join(name), dir.join("..").join(name)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("binary {name} not found next to {} (build the workspace first: cargo build --release)", me.display())
}

impl Cluster {
    /// Starts every component the configuration describes for this host and waits until the front end answers.
    pub fn start(config_path: &Path, wait: Duration) -> anyhow::Result<Cluster> {
        let config = config::Config::load(config_path)?;
        let config_arg = config_path.to_str().context("config path is not UTF-8")?.to_string();
        let ephemeral = ephemeral_ports(&config);
        if !ephemeral.is_empty() {
            eprintln!(
                "warning: {} names ports in the kernel's ephemeral range ({ephemeral:?}): a component restarting \
                 on one may find it taken by another program's socket; prefer ports below {}",
                config_path.display(),
                udp::ports::ephemeral_range().0
            );
        }
        let mut cluster = Cluster { components: Vec::new(), wsdl_url: wsdl_url(&config), addresses: Vec::new() };
        match config.frontend.mode {
            config::Mode::Standalone => {
                cluster.spawn("replica", "cineflix-replica", &["--config", &config_arg])?;
                cluster.spawn("frontend", "cineflix-frontend", &["--config", &config_arg])?;
            }
            config::Mode::Replicated => {
                cluster.spawn("sequencer", "cineflix-sequencer", &["--config", &config_arg])?;
                for replica in &config.replicas {
                    let id = replica.id.to_string();
                    cluster.spawn(&format!("rm{id}"), "cineflix-rm", &["--config", &config_arg, "--id", &id])?;
                }
                cluster.spawn("frontend", "cineflix-frontend", &["--config", &config_arg])?;
            }
        }
        cluster.addresses = component_addresses(&config);
        cluster.wait_ready(config.frontend.listen, wait)?;
        Ok(cluster)
    }

    fn spawn(&mut self, name: &str, binary: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = sibling_binary(binary)?;
        let child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            // Components' own chatter goes to stderr, so a harness's stdout (e.g. `cineflix compare --json`) stays
            // machine-readable.
            .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned().context("cannot duplicate stderr")?))
            .spawn()
            .with_context(|| format!("cannot start {}", path.display()))?;
        self.components.push(Component { name: name.to_string(), child });
        Ok(())
    }

    /// Polls `GET /cineflix?wsdl`, then one real request, until both answer 200, a component dies, or `wait` runs
    /// out.
    fn wait_ready(&mut self, listen: SocketAddr, wait: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + wait;
        let addr = reachable(listen);
        loop {
            if let Some((name, status)) = self.exited() {
                bail!("{name} exited during start-up ({status})");
            }
            let last_problem = if !wsdl_answers(addr) {
                "GET /cineflix?wsdl not answered"
            } else if !probe_answers(addr) {
                "the WSDL is served but a getBookingSchedule request was not answered with 200"
            } else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                bail!("the front end on {addr} was not ready within {wait:?}: {last_problem}");
            }
            std::thread::sleep(Duration::from_millis(20)); // polling interval, not a settle delay
        }
    }

    /// The first component that has exited, if any.
    pub fn exited(&mut self) -> Option<(String, ExitStatus)> {
        self.components
            .iter_mut()
            .find_map(|c| c.child.try_wait().ok().flatten().map(|status| (c.name.clone(), status)))
    }

    /// Process id of a component, for fault injection by signal.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.components.iter().find(|c| c.name == name).map(|c| c.child.id())
    }

    /// Every started component's name and process id, in start order.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.components.iter().map(|c| (c.name.clone(), c.child.id())).collect()
    }

    /// The process id of the `cineflix-replica` currently supervised by replica manager `id` (replicated mode),
    /// found among that RM's child processes. `None` while it has no replica running.
    pub fn replica_pid(&self, id: u16) -> Option<u32> {
        child_pids(self.pid(&format!("rm{id}"))?, "cineflix-replica").into_iter().next()
    }

    /// Stops every component: SIGTERM, then SIGKILL for those still running after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        for component in self.components.iter_mut().rev() {
            if component.child.try_wait().ok().flatten().is_none() {
                terminate(&component.child);
            }
        }
        let deadline = Instant::now() + grace;
        for component in self.components.iter_mut().rev() {
            while component.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if component.child.try_wait().ok().flatten().is_none() {
                let _ = component.child.kill();
                let _ = component.child.wait();
            }
        }
        self.components.clear();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// Sends SIGTERM so the component can flush its logs and finish in-flight requests.
fn terminate(child: &Child) {
    let _ = send_signal(child.id(), Signal::TERM);
}

/// Sends `signal` to process `pid` (SIGKILL a replica, SIGSTOP/SIGCONT a replica manager, ...).
pub fn send_signal(pid: u32, signal: Signal) -> Result<(), String> {
    let target = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or(format!("no pid {pid}"))?;
    rustix::process::kill_process(target, signal).map_err(|error| format!("{signal:?} to pid {pid}: {error}"))
}

/// The URL a client on this host uses for the WSDL.
pub fn wsdl_url(config: &config::Config) -> String {
    if config.frontend.public_url.is_empty() {
        format!("http://{}/cineflix?wsdl", reachable(config.frontend.listen))
    } else {
        format!("{}?wsdl", config.frontend.public_url)
    }
}

/// A listen address as a client can reach it (an unspecified address becomes loopback).
fn reachable(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// The fields of a `/proc/<pid>/stat` line this workspace reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (at most 15 bytes).
    pub comm: String,
    /// `R`, `S`, `D`, `T` (stopped), `Z` (zombie), ...
    pub state: char,
    pub ppid: u32,
    /// CPU time in user and in kernel mode, in USER_HZ ticks (100 per second on Linux).
    pub utime_ticks: u64,
    pub stime_ticks: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/stat`; `None` if the process is gone (or not Linux).
    pub fn of(pid: u32) -> Option<ProcStat> {
        ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Parses one stat line. `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so the fields are
    /// counted after its last `)`; utime and stime are fields 14 and 15.
    pub fn parse(stat: &str) -> Option<ProcStat> {
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let mut fields = tail.split_ascii_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let utime_ticks = fields.nth(9)?.parse().ok()?;
        let stime_ticks = fields.next()?.parse().ok()?;
        Some(ProcStat { comm, state, ppid, utime_ticks, stime_ticks })
    }
}

/// Children of `parent` whose command name (`/proc/<pid>/comm`, at most 15 bytes) starts like `name`. Linux only;
/// elsewhere empty.
pub fn child_pids(parent: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let comm_prefix = &name[..name.len().min(15)];
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|text| text.parse::<u32>().ok()) else { continue };
        let Some(stat) = ProcStat::of(pid) else { continue };
        if stat.ppid == parent && stat.comm.starts_with(comm_prefix) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// Each component's main address for printing: the front end's HTTP, the sequencer's, each RM's manager address.
fn component_addresses(config: &config::Config) -> Vec<(String, String)> {
    let mut addresses = Vec::new();
    match config.frontend.mode {
        config::Mode::Standalone => addresses.push(("replica".to_string(), config.standalone.control.to_string())),
        config::Mode::Replicated => {
            addresses.push(("sequencer".to_string(), config.sequencer.addr.to_string()));
            for replica in &config.replicas {
                let what = format!("{} (replica control {})", replica.manager, replica.replica.control);
                addresses.push((format!("rm{}", replica.id), what));
            }
        }
    }
    addresses.push(("frontend".to_string(), format!("http://{}", reachable(config.frontend.listen))));
    addresses
}

/// The readiness probe: a SOAP 1.1 `getBookingSchedule` for a customer nobody books as, answered without
/// touching any state.
const PROBE_ENVELOPE: &str = concat!(
    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
    r#"<getBookingSchedule xmlns="urn:cineflix:booking:v1"><userID>ATWC9999</userID>"#,
    r#"<customerID>ATWC9999</customerID></getBookingSchedule></s:Body></s:Envelope>"#
);

/// Whether one real request is answered with HTTP 200 (a fault, e.g. ServiceUnavailable, is a 500).
fn probe_answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "POST /cineflix HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{PROBE_ENVELOPE}",
        PROBE_ENVELOPE.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn wsdl_answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /cineflix?wsdl HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

#[cfg(test)]
mod proc_stat_tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_after_the_last_parenthesis() {
        let stat = ProcStat::parse("4242 (cineflix (x) y) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 1 0 100 0 0").unwrap();
        let expected =
            ProcStat { comm: "cineflix (x) y".into(), state: 'S', ppid: 1, utime_ticks: 250, stime_ticks: 31 };
        assert_eq!(stat, expected);
        assert_eq!(ProcStat::parse("4242 (cut) S 1 2"), None);
        assert_eq!(ProcStat::parse("no parenthesis"), None);
    }
}
