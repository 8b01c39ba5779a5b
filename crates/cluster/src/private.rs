//! Private local deployments: a shipped configuration copied into a scratch directory with every address moved to
//! an unused loopback port and the logs kept there, so that a tool (`cineflix grade`, `cineflix chaos`, the failure
//! demos, system tests) can start a whole cluster of its own next to a running `run/up` and throw it away after.
//!
//! What it deliberately is not: a config editor for operators. It rewrites addresses and the log directory only;
//! everything else (vote mode, replication timing, faults) stays as the template says, unless the caller edits the
//! returned [`config::Config`] before [`PrivateDeployment::start`].

use crate::Cluster;
use anyhow::Context;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration prepared for a private deployment in its own directory.
#[derive(Debug, Clone)]
pub struct PrivateDeployment {
    /// The scratch directory: holds `cineflix.toml` and `log/`.
    pub dir: PathBuf,
    /// The relocated configuration; edit it before [`PrivateDeployment::start`] to change faults or timing.
    pub config: config::Config,
}

impl PrivateDeployment {
    /// Loads `template` and relocates it into `dir` (created if missing): fresh loopback ports, logs in `dir/log`.
    pub fn from_template(template: &Path, dir: &Path) -> anyhow::Result<PrivateDeployment> {
        let config = config::Config::load(template)?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let relocated = relocate(&config, &dir.join("log"))?;
        Ok(PrivateDeployment { dir: dir.to_path_buf(), config: relocated })
    }

    /// Where [`PrivateDeployment::write`] puts the configuration.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("cineflix.toml")
    }

    /// Writes the configuration (after validating it) and returns its path, for `--config` of every CLI tool.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        self.config.validate().context("the private deployment's configuration is invalid")?;
        let text = toml::to_string(&self.config).context("cannot render the configuration as TOML")?;
        let path = self.config_path();
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Writes the configuration and starts every component, waiting up to `wait` until a request goes through.
    pub fn start(&self, wait: Duration) -> anyhow::Result<Cluster> {
        let path = self.write()?;
        Cluster::start(&path, wait)
    }

    /// The SOAP endpoint URL of the front end.
    pub fn endpoint(&self) -> String {
        format!("http://{}/cineflix", self.config.frontend.listen)
    }
}

/// `config` with every address on an unused loopback port (see `udp::unused_loopback_ports`), `public_url` cleared
/// (it named the template's port) and logs in `log_dir`. Addresses that shared a port in the template share the new
/// one, so a file that names one address twice stays consistent.
pub fn relocate(config: &config::Config, log_dir: &Path) -> anyhow::Result<config::Config> {
    let mut relocated = config.clone();
    let mut slots = address_slots(&mut relocated);
    let mut originals: Vec<u16> = slots.iter().map(|addr| addr.port()).collect();
    originals.sort_unstable();
    originals.dedup();
    let fresh = udp::unused_loopback_ports(originals.len()).context("no free loopback ports")?;
    for addr in &mut slots {
        let index = originals.binary_search(&addr.port()).expect("every slot's port is in the list");
        **addr = SocketAddr::from((Ipv4Addr::LOCALHOST, fresh[index]));
    }
    relocated.frontend.public_url = String::new();
    relocated.logs.dir = log_dir.to_path_buf();
    Ok(relocated)
}

/// The configured ports that lie in the kernel's ephemeral range (see `udp::ports`), deduplicated and sorted: a
/// component restarting on one of them may find it taken by some socket bound to port 0 meanwhile.
pub fn ephemeral_ports(config: &config::Config) -> Vec<u16> {
    let (low, high) = udp::ports::ephemeral_range();
    let mut copy = config.clone();
    let mut ports: Vec<u16> = address_slots(&mut copy)
        .into_iter()
        .map(|addr| addr.port())
        .filter(|port| (low..=high).contains(port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Every socket address a deployment binds, as mutable references.
fn address_slots(config: &mut config::Config) -> Vec<&mut SocketAddr> {
    let config::Config { frontend, standalone, sequencer, replicas, .. } = config;
    let mut slots = vec![&mut frontend.listen, &mut frontend.udp, &mut frontend.results, &mut sequencer.addr];
    slots.extend(replica_addrs(standalone));
    for replica in replicas.iter_mut() {
        let member = replica.member.get_or_insert(replica.manager);
        // A member left to its default (manager port + 1) is made explicit so that it moves too.
        if *member == replica.manager {
            member.set_port(replica.manager.port().wrapping_add(1));
        }
        slots.push(&mut replica.manager);
        slots.push(member);
        slots.extend(replica_addrs(&mut replica.replica));
    }
    slots
}

fn replica_addrs(addrs: &mut config::ReplicaAddrs) -> [&mut SocketAddr; 4] {
    let config::ReplicaAddrs { control, atw, out, ver } = addrs;
    [control, atw, out, ver]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name)
    }

    #[test]
    fn every_address_moves_and_distinct_addresses_stay_distinct() {
        for name in ["cineflix.toml", "standalone.toml", "replicated-n4.toml"] {
            let template = config::Config::load(&shipped(name)).unwrap();
            let mut before = template.clone();
            let mut after = relocate(&template, Path::new("/tmp/x/log")).unwrap();
            let old: Vec<SocketAddr> = address_slots(&mut before).into_iter().map(|addr| *addr).collect();
            let new: Vec<SocketAddr> = address_slots(&mut after).into_iter().map(|addr| *addr).collect();
            assert_eq!(old.len(), new.len());
            for (old_addr, new_addr) in old.iter().zip(&new) {
                assert_ne!(old_addr, new_addr, "{name}: {old_addr} was not moved");
            }
            let mut distinct_old = old.clone();
            distinct_old.sort_unstable();
            distinct_old.dedup();
            let mut distinct_new = new.clone();
            distinct_new.sort_unstable();
            distinct_new.dedup();
            assert_eq!(distinct_old.len(), distinct_new.len(), "{name}: ports merged or split");
            assert_eq!(after.logs.dir, Path::new("/tmp/x/log"));
            after.validate().unwrap();
        }
    }

    #[test]
    fn relocated_ports_are_never_ephemeral_and_shipped_configs_have_none() {
        let template = config::Config::load(&shipped("cineflix.toml")).unwrap();
        assert_eq!(ephemeral_ports(&template), Vec::<u16>::new());
        assert_eq!(ephemeral_ports(&relocate(&template, Path::new("log")).unwrap()), Vec::<u16>::new());
        let (low, _) = udp::ports::ephemeral_range();
        let mut inside = template.clone();
        inside.sequencer.addr.set_port(low);
        assert_eq!(ephemeral_ports(&inside), vec![low]);
    }

    #[test]
    fn the_written_file_loads_back_to_the_same_configuration() {
        let dir = std::env::temp_dir().join(format!("cineflix-private-{}", std::process::id()));
        let deployment = PrivateDeployment::from_template(&shipped("cineflix.toml"), &dir).unwrap();
        let path = deployment.write().unwrap();
        let loaded = config::Config::load(&path).unwrap();
        assert_eq!(loaded, deployment.config);
        assert!(deployment.endpoint().starts_with("http://127.0.0.1:"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
