//! Messages between theatre servers, and the [`Peers`] trait the coordinator reaches
//! theatres through (stub: the booking helper fills in the variants and codec).
use crate::ids::TheatreCode;
use std::future::Future;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRequest {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerResponse {}

/// How the coordinator reaches a theatre, its own included.
///
/// The call is `async` so that the coordinator is a plain state machine (a future) with
/// no I/O inside: in-process implementations return ready futures, the replica program
/// awaits real UDP round trips. Implementations must deliver each call exactly once.
pub trait Peers {
    fn call(&mut self, to: TheatreCode, request: PeerRequest) -> impl Future<Output = PeerResponse>;
}
