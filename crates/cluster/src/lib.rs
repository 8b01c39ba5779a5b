//! Starts, watches and stops the processes of a CineFlix deployment on this host.
//!
//! `run/up` uses it to bring up the default loopback system; system tests and graders use it to start a local
//! cluster they can kill parts of. It only manages processes: it deliberately knows nothing of SOAP, booking or
//! the ordering protocol (readiness is "the front end answers `GET ?wsdl`", checked over a plain TCP connection).

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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
        let mut cluster = Cluster { components: Vec::new(), wsdl_url: wsdl_url(&config) };
        match config.frontend.mode {
            config::Mode::Standalone => {
                cluster.spawn("replica", "cineflix-replica", &["--config", &config_arg])?;
                cluster.spawn("frontend", "cineflix-frontend", &["--config", &config_arg])?;
            }
            config::Mode::Replicated => bail!("replicated mode is not available yet in this build"),
        }
        cluster.wait_ready(config.frontend.listen, wait)?;
        Ok(cluster)
    }

    fn spawn(&mut self, name: &str, binary: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = sibling_binary(binary)?;
        let child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", path.display()))?;
        self.components.push(Component { name: name.to_string(), child });
        Ok(())
    }

    /// Polls `GET /cineflix?wsdl` until it answers 200, a component dies, or `wait` runs out.
    fn wait_ready(&mut self, listen: SocketAddr, wait: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + wait;
        let addr = reachable(listen);
        loop {
            if let Some((name, status)) = self.exited() {
                bail!("{name} exited during start-up ({status})");
            }
            if wsdl_answers(addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the front end did not answer GET /cineflix?wsdl on {addr} within {wait:?}");
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
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
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
