//! The message endpoint: a tokio UDP socket that sends and receives whole messages, with optional fault injection.
//!
//! A thin shell over the pure parts: `framing.rs` splits and reassembles, `faults.rs` decides each datagram's
//! fate. This file owns the socket and the timer tasks that send delayed or held-back datagrams. It deliberately
//! does not retransmit: a lost datagram (or one lost fragment) loses its message, and the protocol above retries.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::faults::{FaultDecision, FaultInjector, FaultStats, LinkFaults};
use crate::framing::{self, DEFAULT_MAX_DATAGRAM_BYTES, Frame, Reassembler, ReassemblyLimits};
use crate::socket::{DEFAULT_BUFFER_BYTES, bind_std};

/// How long a datagram held back for reordering waits for a next datagram before it is sent anyway.
pub const REORDER_HOLD_MAX: Duration = Duration::from_millis(2);

/// Receive buffer size per call: above the largest UDP payload (IPv4 65,507; IPv6 65,527), so the kernel never
/// truncates a datagram into it.
const RECEIVE_BUFFER_BYTES: usize = 65_536;

/// Everything an endpoint can be configured with; `Default` is what [`Endpoint::bind`] uses.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointConfig {
    /// `SO_RCVBUF` / `SO_SNDBUF` requested.
    pub buffer_bytes: usize,
    /// Largest datagram sent; larger messages are fragmented.
    pub max_datagram_bytes: usize,
    /// Faults injected on the send side.
    pub faults: LinkFaults,
    /// Seed of the fault RNG; `None` picks a random one (logged at debug level so a run can be replayed).
    pub fault_seed: Option<u64>,
    /// Memory and time bounds of the reassembler.
    pub reassembly: ReassemblyLimits,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            max_datagram_bytes: DEFAULT_MAX_DATAGRAM_BYTES,
            faults: LinkFaults::default(),
            fault_seed: None,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// A tokio UDP endpoint that sends and receives whole messages of up to [`framing::MAX_MESSAGE_BYTES`].
///
/// Share it as `Arc<Endpoint>`: any number of tasks may send while others receive. [`Endpoint::recv_from`] is
/// cancel-safe. Works on a current-thread runtime.
#[derive(Debug)]
pub struct Endpoint {
    /// The socket; shared with the timer tasks that send delayed and held-back datagrams, which drop their clone
    /// when they finish.
    socket: Arc<UdpSocket>,
    /// A second handle on the same socket (a duplicated descriptor) for [`Endpoint::recv_from_now`], which must
    /// read without consulting tokio's readiness: tokio skips the system call while it believes the socket empty.
    direct: std::net::UdpSocket,
    /// Largest datagram this endpoint sends.
    max_datagram_bytes: usize,
    /// Next id for a fragmented message; starts random so that a restarted sender does not reuse ids a receiver
    /// still remembers as delivered.
    next_message_id: AtomicU32,
    /// Fault decisions and the datagram held back for reordering; shared with the flush timer tasks.
    send: Arc<Mutex<SendState>>,
    /// Receive buffer and reassembler. Locked only for synchronous work, never across an await.
    receive: Mutex<ReceiveState>,
}

#[derive(Debug)]
struct SendState {
    injector: FaultInjector,
    /// A datagram kept back to be sent after the next one.
    held: Option<Held>,
    /// Incremented per held datagram so that a flush timer only sends the datagram it was started for.
    held_generation: u64,
}

#[derive(Debug)]
struct Held {
    datagram: Vec<u8>,
    to: SocketAddr,
    copies: u8,
    generation: u64,
}

#[derive(Debug)]
struct ReceiveState {
    buffer: Box<[u8]>,
    reassembler: Reassembler<SocketAddr>,
    /// Messages of a bundle datagram not yet returned; every receive takes these first, in order.
    unbundled: VecDeque<(Vec<u8>, SocketAddr)>,
    /// Datagrams rejected by the framing, for diagnostics.
    malformed: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent state (every update is a single assignment or
    // a completed reassembler call), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Endpoint {
    /// Binds with [`DEFAULT_BUFFER_BYTES`] and the given faults.
    pub async fn bind(addr: SocketAddr, faults: LinkFaults) -> io::Result<Endpoint> {
        Endpoint::bind_with(addr, EndpointConfig { faults, ..EndpointConfig::default() }).await
    }

    /// Binds with a full configuration.
    pub async fn bind_with(addr: SocketAddr, config: EndpointConfig) -> io::Result<Endpoint> {
        config.faults.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        framing::datagram_count(0, config.max_datagram_bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let bound = bind_std(addr, config.buffer_bytes)?;
        let direct = bound.try_clone()?;
        let socket = UdpSocket::from_std(bound)?;
        let fault_seed = config.fault_seed.unwrap_or_else(rand::random);
        tracing::debug!(local = %socket.local_addr()?, fault_seed, faults = ?config.faults, "endpoint bound");
        Ok(Endpoint {
            socket: Arc::new(socket),
            direct,
            max_datagram_bytes: config.max_datagram_bytes,
            next_message_id: AtomicU32::new(rand::random()),
            send: Arc::new(Mutex::new(SendState {
                injector: FaultInjector::new(config.faults, fault_seed),
                held: None,
                held_generation: 0,
            })),
            receive: Mutex::new(ReceiveState {
                buffer: vec![0; RECEIVE_BUFFER_BYTES].into_boxed_slice(),
                reassembler: Reassembler::new(config.reassembly),
                unbundled: VecDeque::new(),
                malformed: 0,
            }),
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends one whole message (fragmented if it does not fit one datagram). A message above
    /// [`framing::MAX_MESSAGE_BYTES`] is an `InvalidInput` error; nothing is ever truncated.
    ///
    /// Cancelling this future may leave a fragmented message partly sent, which the receiver treats like a loss.
    pub async fn send_to(&self, message: &[u8], to: SocketAddr) -> io::Result<()> {
        let count = framing::datagram_count(message.len(), self.max_datagram_bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let message_id = if count > 1 { self.next_message_id.fetch_add(1, Ordering::Relaxed) } else { 0 };
        let datagrams = framing::encode(message, message_id, self.max_datagram_bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        for datagram in datagrams {
            self.send_datagram(datagram, to).await?;
        }
        Ok(())
    }

    /// Sends `messages` to one receiver in as few datagrams as fit (bundles, see `framing`), in order; a message
    /// too large to share a datagram goes on its own, fragmented if need be. The receiver gets them one by one from
    /// its receive calls, exactly as if each had been sent with [`Endpoint::send_to`]. Each datagram meets the
    /// fault injection on its own (a dropped bundle loses all its messages).
    pub async fn send_bundle_to(&self, messages: &[&[u8]], to: SocketAddr) -> io::Result<()> {
        for datagram in framing::encode_bundles(messages, self.max_datagram_bytes) {
            match datagram {
                Ok(datagram) => self.send_datagram(datagram, to).await?,
                Err(index) => self.send_to(messages[index], to).await?,
            }
        }
        Ok(())
    }

    /// Applies the fault decision to one datagram and sends what is left of it.
    async fn send_datagram(&self, datagram: Vec<u8>, to: SocketAddr) -> io::Result<()> {
        let (copies, delay, released) = {
            let mut state = lock(&self.send);
            match state.injector.decide() {
                FaultDecision::Drop => return Ok(()),
                FaultDecision::Send { copies, hold: true, .. } if state.held.is_none() => {
                    state.held_generation += 1;
                    let generation = state.held_generation;
                    state.held = Some(Held { datagram, to, copies, generation });
                    self.spawn_held_flush(generation);
                    return Ok(());
                }
                FaultDecision::Send { copies, delay, .. } => (copies, delay, state.held.take()),
            }
        };
        if delay.is_zero() {
            for _ in 0..copies {
                self.socket.send_to(&datagram, to).await?;
            }
        } else {
            let socket = Arc::clone(&self.socket);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                for _ in 0..copies {
                    if let Err(error) = socket.send_to(&datagram, to).await {
                        tracing::debug!(%error, %to, "delayed datagram not sent");
                    }
                }
            });
        }
        if let Some(held) = released {
            for _ in 0..held.copies {
                self.socket.send_to(&held.datagram, held.to).await?;
            }
        }
        Ok(())
    }

    /// Sends a held-back datagram after [`REORDER_HOLD_MAX`] if no later datagram released it first.
    fn spawn_held_flush(&self, generation: u64) {
        let socket = Arc::clone(&self.socket);
        let send = Arc::clone(&self.send);
        tokio::spawn(async move {
            tokio::time::sleep(REORDER_HOLD_MAX).await;
            let held = {
                let mut state = lock(&send);
                match &state.held {
                    Some(held) if held.generation == generation => state.held.take(),
                    _ => None,
                }
            };
            if let Some(held) = held {
                for _ in 0..held.copies {
                    if let Err(error) = socket.send_to(&held.datagram, held.to).await {
                        tracing::debug!(%error, to = %held.to, "held datagram not sent");
                    }
                }
            }
        });
    }

    /// Sends the datagram held back for reordering, if any, now.
    pub async fn flush(&self) -> io::Result<()> {
        let held = lock(&self.send).held.take();
        if let Some(held) = held {
            for _ in 0..held.copies {
                self.socket.send_to(&held.datagram, held.to).await?;
            }
        }
        Ok(())
    }

    /// Receives the next whole message and its sender. Cancel-safe: all state changes happen synchronously after
    /// the socket reported data, so dropping the future loses nothing.
    pub async fn recv_from(&self) -> io::Result<(Vec<u8>, SocketAddr)> {
        loop {
            if let Some(received) = self.try_recv_from()? {
                return Ok(received);
            }
            self.socket.readable().await?;
        }
    }

    /// Returns the next whole message if one can be completed from datagrams already queued in the kernel,
    /// without waiting. For shells that drain the socket before flushing their output.
    pub fn try_recv_from(&self) -> io::Result<Option<(Vec<u8>, SocketAddr)>> {
        self.receive_queued(|buffer| self.socket.try_recv_from(buffer))
    }

    /// Like [`Endpoint::try_recv_from`], but always asks the kernel, even when the reactor has not (yet) reported
    /// the socket readable. For a receiver told out of band that a message was just sent to it (two endpoints
    /// on one thread): it reads the message without waiting for a reactor round. Finding nothing is harmless:
    /// the reactor still reports every datagram that arrives.
    pub fn recv_from_now(&self) -> io::Result<Option<(Vec<u8>, SocketAddr)>> {
        self.receive_queued(|buffer| self.direct.recv_from(buffer))
    }

    /// Waits until the reactor reports the socket readable (possibly spuriously: a message may already have been
    /// read by [`Endpoint::recv_from_now`]), or returns at once while messages of a bundle wait to be taken.
    /// Cancel-safe. Follow it with [`Endpoint::try_recv_from`], whose `None` re-arms the readiness.
    pub async fn readable(&self) -> io::Result<()> {
        if !lock(&self.receive).unbundled.is_empty() {
            return Ok(());
        }
        self.socket.readable().await
    }

    /// Returns the next message of a bundle already read, else reads queued datagrams with `receive` until one
    /// completes a message or the socket is empty.
    fn receive_queued(
        &self,
        receive: impl Fn(&mut [u8]) -> io::Result<(usize, SocketAddr)>,
    ) -> io::Result<Option<(Vec<u8>, SocketAddr)>> {
        let mut state = lock(&self.receive);
        let ReceiveState { buffer, reassembler, unbundled, malformed } = &mut *state;
        if let Some(received) = unbundled.pop_front() {
            return Ok(Some(received));
        }
        loop {
            match receive(buffer) {
                Ok((len, from)) => {
                    let accepted = match framing::decode(&buffer[..len]) {
                        Ok(Frame::Bundle(bundle)) => {
                            unbundled.extend(bundle.map(|message| (message.to_vec(), from)));
                            Ok(unbundled.pop_front().map(|(message, _)| message))
                        }
                        // Whole messages and fragments (the reassembler decodes again: one byte of tag).
                        Ok(_) => reassembler.accept(Instant::now(), from, &buffer[..len]),
                        Err(error) => Err(error),
                    };
                    match accepted {
                        Ok(Some(message)) => return Ok(Some((message, from))),
                        Ok(None) => {}
                        Err(error) => {
                            *malformed += 1;
                            tracing::debug!(%error, %from, "datagram rejected");
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors from an earlier send to a closed port surface here on some systems; they say
                // nothing about this socket's ability to receive.
                Err(error)
                    if matches!(error.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Replaces the fault rates at run time (rates outside `0.0..=1.0` are clamped, with a warning).
    pub fn set_faults(&self, faults: LinkFaults) {
        if let Err(error) = faults.validate() {
            tracing::warn!(%error, "fault rates clamped");
        }
        lock(&self.send).injector.set_faults(faults);
    }

    /// The fault rates in force.
    pub fn faults(&self) -> LinkFaults {
        lock(&self.send).injector.faults().clone()
    }

    /// Counts of the fault decisions made so far.
    pub fn fault_stats(&self) -> FaultStats {
        lock(&self.send).injector.stats()
    }

    /// Datagrams received that the framing rejected.
    pub fn malformed_count(&self) -> u64 {
        lock(&self.receive).malformed
    }
}
