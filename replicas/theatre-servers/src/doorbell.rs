//! Process-local doorbells: after a server sends a UDP message to another server of the same process, it rings that
//! server's doorbell, so the receiver reads its socket at once instead of waiting for the reactor to report it.
//!
//! Why: the servers of one process share one thread. Without a doorbell every peer message costs the receiver a
//! reactor round (`epoll_wait`) to learn of the datagram, plus a read that finds the socket empty before it sleeps
//! again; that was about a third of the replica's system calls. The message itself still travels by UDP (the
//! specification wants the theatre servers to talk UDP): a doorbell carries no data, only "look now".
//!
//! A ring is a hint and never needed for correctness: a receiver that finds nothing forgets its rings, and the
//! reactor still reports every datagram that arrives. Messages from other processes simply ring no bell.
//! Single-threaded by design (`Rc`, `Cell`), like the servers that use it.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// One receiver's doorbell: how many messages local senders announced, and the receiver's waker.
#[derive(Debug, Default)]
pub struct Doorbell {
    rings: Cell<u32>,
    waker: RefCell<Option<Waker>>,
}

impl Doorbell {
    /// Announces one message sent to this receiver and wakes it.
    pub fn ring(&self) {
        self.rings.set(self.rings.get().saturating_add(1));
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Takes one ring, if any.
    pub fn take(&self) -> bool {
        let rings = self.rings.get();
        if rings > 0 {
            self.rings.set(rings - 1);
        }
        rings > 0
    }

    /// Forgets every ring (the receiver found its socket empty: the announced messages were read already).
    pub fn clear(&self) {
        self.rings.set(0);
    }

    /// Completes when the bell has a ring (without taking it). Cancel-safe.
    pub async fn rung(&self) {
        poll_fn(|context| {
            if self.rings.get() > 0 {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(context.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

/// A receiver's address and its doorbell.
type Registered = (SocketAddr, Rc<Doorbell>);

/// The doorbells of the receivers in this process, by the address their socket is bound to. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct Doorbells {
    /// A handful at most (three theatre servers), so a vector.
    bells: Rc<RefCell<Vec<Registered>>>,
}

impl Doorbells {
    /// Makes `bell` the doorbell of the receiver bound to `addr` (a receiver may be known by several addresses).
    pub fn register(&self, addr: SocketAddr, bell: &Rc<Doorbell>) {
        let mut bells = self.bells.borrow_mut();
        bells.retain(|(bound, _)| *bound != addr);
        bells.push((addr, Rc::clone(bell)));
    }

    /// Rings the doorbell of the receiver at `addr`, if it lives in this process.
    pub fn ring(&self, addr: SocketAddr) {
        if let Some((_, bell)) = self.bells.borrow().iter().find(|(bound, _)| *bound == addr) {
            bell.ring();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_count_up_and_are_taken_one_at_a_time() {
        let bells = Doorbells::default();
        let addr: SocketAddr = "127.0.0.1:7301".parse().unwrap();
        let bell = Rc::new(Doorbell::default());
        bells.register(addr, &bell);
        assert!(!bell.take());
        bells.ring(addr);
        bells.ring(addr);
        bells.ring("127.0.0.1:9".parse().unwrap()); // not in this process: no effect
        assert!(bell.take());
        assert!(bell.take());
        assert!(!bell.take());
        bells.ring(addr);
        bell.clear();
        assert!(!bell.take());
    }

    #[tokio::test]
    async fn a_ring_wakes_a_waiting_receiver() {
        let bell = Rc::new(Doorbell::default());
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let waiter = tokio::task::spawn_local({
                    let bell = Rc::clone(&bell);
                    async move { bell.rung().await }
                });
                tokio::task::yield_now().await;
                assert!(!waiter.is_finished());
                bell.ring();
                tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
                assert!(bell.take(), "rung() does not take the ring");
            })
            .await;
    }
}
