//! Unused loopback ports for a local deployment that tests and tools start on their own (system tests, `cineflix
//! grade`, `cineflix compare`), chosen outside the kernel's ephemeral port range.
//!
//! Why not "bind port 0 and release it": those ports come from the ephemeral range, the same range the kernel draws
//! from for every socket bound to port 0. A deployment's replica whose port is released while the replica restarts
//! can lose that port to any client socket of the same machine (a replica manager's driver socket, a status probe),
//! and then cannot start again until that socket closes. Ports below the ephemeral range are only ever taken by
//! someone who names them.
//!
//! What it deliberately is not: a reservation. A port is free when chosen and bound by its user a moment later;
//! another process that names the same port in between wins. Each process walks the range from its own random
//! starting point, and threads of one process never get the same port twice, so collisions need an outside process
//! that names ports in the same range.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Mutex;

/// Where ports are searched when the ephemeral range leaves room below it (Linux's default range starts at 32768).
const SEARCH_FLOOR: u16 = 10_000;
/// The ephemeral range assumed when the kernel's cannot be read (Linux's default).
const DEFAULT_EPHEMERAL: (u16, u16) = (32_768, 60_999);
/// A search range smaller than this is not worth walking.
const MIN_RANGE_PORTS: u32 = 1_000;

/// The next candidate of this process (an offset into the search range), or `None` before the first call.
static CURSOR: Mutex<Option<u32>> = Mutex::new(None);

/// The unused-port search failed.
#[derive(Debug, thiserror::Error)]
pub enum PortsError {
    /// Fewer than `wanted` ports of the search range were free on 127.0.0.1 for both UDP and TCP.
    #[error("only {found} of {wanted} loopback ports between {low} and {high} are free for both UDP and TCP")]
    Exhausted {
        /// How many ports were asked for.
        wanted: usize,
        /// How many were found free.
        found: usize,
        /// The searched range, inclusive.
        low: u16,
        /// The searched range, inclusive.
        high: u16,
    },
}

/// `count` distinct ports, each free on 127.0.0.1 for both UDP and TCP right now, outside the ephemeral range.
///
/// Each port is probed by binding it (UDP and TCP) and all probes are held until every port is chosen, so the
/// ports differ from each other and from whatever already listens.
pub fn unused_loopback_ports(count: usize) -> Result<Vec<u16>, PortsError> {
    let (low, high) = search_range(ephemeral_range());
    let size = u32::from(high) - u32::from(low) + 1;
    let mut cursor = CURSOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut offset = cursor.unwrap_or_else(|| random_start() % size);
    let mut held = Vec::with_capacity(count);
    let mut ports = Vec::with_capacity(count);
    for _ in 0..size {
        if ports.len() == count {
            break;
        }
        let port = u16::try_from(u32::from(low) + offset).expect("offset stays inside the u16 search range");
        offset = (offset + 1) % size;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if let (Ok(udp), Ok(tcp)) = (UdpSocket::bind(address), TcpListener::bind(address)) {
            held.push((udp, tcp));
            ports.push(port);
        }
    }
    *cursor = Some(offset);
    if ports.len() < count {
        return Err(PortsError::Exhausted { wanted: count, found: ports.len(), low, high });
    }
    Ok(ports)
}

/// The kernel's ephemeral range (inclusive), or Linux's default where it cannot be read.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| parse_range(&text))
        .unwrap_or(DEFAULT_EPHEMERAL)
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut fields = text.split_whitespace().map(str::parse::<u16>);
    match (fields.next(), fields.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low <= high => Some((low, high)),
        _ => None,
    }
}

/// The range to search: below the ephemeral range if there is room, else above it, else everything above 1023.
fn search_range((ephemeral_low, ephemeral_high): (u16, u16)) -> (u16, u16) {
    if ephemeral_low > SEARCH_FLOOR && u32::from(ephemeral_low - SEARCH_FLOOR) >= MIN_RANGE_PORTS {
        (SEARCH_FLOOR, ephemeral_low - 1)
    } else if u32::from(u16::MAX - ephemeral_high) >= MIN_RANGE_PORTS {
        (ephemeral_high + 1, u16::MAX)
    } else {
        (1024, u16::MAX)
    }
}

/// A start that differs between processes and runs (pid and clock), so parallel test binaries spread out.
fn random_start() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::process::id().wrapping_mul(2_654_435_761) ^ nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let (ephemeral_low, ephemeral_high) = ephemeral_range();
        let first = unused_loopback_ports(8).unwrap();
        let second = unused_loopback_ports(8).unwrap();
        let mut all: Vec<u16> = first.iter().chain(&second).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 16, "two calls of one process never share a port: {first:?} {second:?}");
        for port in all {
            assert!(!(ephemeral_low..=ephemeral_high).contains(&port), "{port} is ephemeral");
            UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("the chosen port is bindable");
        }
    }

    #[test]
    fn the_search_range_avoids_the_ephemeral_range() {
        assert_eq!(search_range((32_768, 60_999)), (10_000, 32_767));
        assert_eq!(search_range((1_024, 60_000)), (60_001, 65_535));
        assert_eq!(search_range((1_024, 65_000)), (1_024, 65_535));
        assert_eq!(parse_range("32768\t60999\n"), Some((32_768, 60_999)));
        assert_eq!(parse_range("garbage"), None);
        assert_eq!(parse_range("9 3"), None);
    }
}
