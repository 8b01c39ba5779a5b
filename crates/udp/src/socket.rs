//! UDP socket setup: large kernel buffers, no address reuse, nonblocking.
//!
//! Only socket creation lives here; sending and receiving is `endpoint.rs`. It does not change system limits
//! (`net.core.rmem_max`): scripts run as root may raise those, library code must not.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Domain, Protocol, Socket, Type};

/// Receive and send buffer size requested for every socket. Loopback UDP drops nearly everything once a receiver
/// falls a few hundred datagrams behind at the default 208 KiB; the kernel caps the request at
/// `net.core.rmem_max` / `wmem_max`.
pub const DEFAULT_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// Warn about a capped buffer once per process, not once per socket.
static WARNED_CAPPED: AtomicBool = AtomicBool::new(false);

/// Binds a UDP socket with socket2: `SO_RCVBUF`/`SO_SNDBUF` = `buffer_bytes`, `SO_REUSEADDR` off, nonblocking.
/// Logs a warning (once per process) when the kernel grants smaller buffers than asked for.
pub fn bind_std(addr: SocketAddr, buffer_bytes: usize) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(false)?;
    socket.set_recv_buffer_size(buffer_bytes)?;
    socket.set_send_buffer_size(buffer_bytes)?;
    // Linux reports twice the granted size (it counts bookkeeping overhead), so "granted < asked" is the
    // honest test only after halving; comparing the raw figure would hide a cap at half the request.
    let granted_recv = socket.recv_buffer_size()?;
    let granted_send = socket.send_buffer_size()?;
    let halved = |granted: usize| if cfg!(target_os = "linux") { granted / 2 } else { granted };
    if (halved(granted_recv) < buffer_bytes || halved(granted_send) < buffer_bytes)
        && !WARNED_CAPPED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            requested = buffer_bytes,
            granted_recv = halved(granted_recv),
            granted_send = halved(granted_send),
            "UDP socket buffers capped by the kernel; raise net.core.rmem_max/wmem_max to avoid drops under bursts"
        );
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_nonblocking_with_large_buffers() {
        let socket = bind_std("127.0.0.1:0".parse().unwrap(), 1024 * 1024).unwrap();
        let addr = socket.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let socket2 = Socket::from(socket);
        assert!(!socket2.reuse_address().unwrap());
        // Nonblocking: a read with nothing queued returns WouldBlock instead of hanging the test.
        let mut buf = [0u8; 16];
        let err = std::net::UdpSocket::from(socket2).recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_bound_port_cannot_be_bound_twice() {
        let first = bind_std("127.0.0.1:0".parse().unwrap(), 64 * 1024).unwrap();
        let err = bind_std(first.local_addr().unwrap(), 64 * 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
