//! One theatre server: owns one [`Theatre`] and one UDP endpoint, answers peer calls from the other theatre servers,
//! and runs the coordinator for jobs whose caller has this theatre as home.
//!
//! Two activities share the server on one thread: [`TheatreServer::serve`] (the only reader of the endpoint: it
//! answers calls and hands replies to the server's [`RpcClient`]) and [`TheatreServer::run_job`] (a coordinator
//! awaiting peer replies). Because the serve loop never waits on coordination, a theatre keeps answering its peers
//! while its own coordinator waits, and the `RefCell<Theatre>` is never borrowed across an await.
//!
//! It deliberately does not order jobs (the control task runs one job at a time, replica-wide) and holds no job
//! results (the control task caches them).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use booking::{PeerRequest, PeerResponse, Peers, Request, Response, Theatre, TheatreCode, coordinator};
use jiff::tz::TimeZone;
use udp::Endpoint;

use crate::audit_log::AuditLog;
use crate::doorbell::{Doorbell, Doorbells};
use crate::rpc::{Admission, Responder, RetryPolicy, RpcClient};
use crate::wire::{Envelope, Kind, Op, RelayCall, RunCall};

/// Counters of one theatre server, for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TheatreStats {
    /// Messages that were not a valid envelope or payload, dropped.
    pub malformed: u64,
    /// Datagrams the endpoint's framing rejected (never reached this server).
    pub framing_rejected: u64,
    /// Peer calls handled (first time).
    pub calls_handled: u64,
    /// Retried calls answered from the reply cache.
    pub replays: u64,
    /// Calls ignored as in progress or stale.
    pub ignored: u64,
    /// Peer calls this server's coordinator resent.
    pub resends: u64,
    /// Replies that matched no pending call.
    pub stray_replies: u64,
    /// Relay calls this server's coordinator made (reads at both other theatres in one pass).
    pub relays: u64,
    /// Hops of relay calls this server answered (first time or again).
    pub relay_hops: u64,
}

/// One theatre server.
#[derive(Debug)]
pub struct TheatreServer {
    code: TheatreCode,
    /// The theatre's state; borrowed only for synchronous work.
    theatre: RefCell<Theatre>,
    /// Shared with `client`; read only by `serve`.
    endpoint: Rc<Endpoint>,
    /// This server's outgoing calls (its coordinator's peer calls).
    client: RpcClient,
    /// Every theatre server's address, indexed by `TheatreCode::index`.
    theatre_addrs: [SocketAddr; 3],
    responder: RefCell<Responder>,
    /// Rung by senders in this process after they send to this server's endpoint.
    doorbell: Rc<Doorbell>,
    /// The doorbells of the servers in this process, rung after each reply sent.
    doorbells: Doorbells,
    log: RefCell<AuditLog>,
    zone: TimeZone,
    /// The last job's whole Unix second and its "today": most jobs fall in the same second as the one before, and
    /// a zone's offset (so the date) changes only at whole seconds.
    today: TodayCache,
    malformed: Cell<u64>,
    calls_handled: Cell<u64>,
    replays: Cell<u64>,
    ignored: Cell<u64>,
    relays: Cell<u64>,
    relay_hops: Cell<u64>,
}

impl TheatreServer {
    /// A server for `code` on `endpoint` (already bound to `theatre_addrs[code]`), writing to `log`. It registers
    /// its doorbell in `doorbells`, which every server of the process shares (see [`crate::doorbell`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        code: TheatreCode,
        endpoint: Endpoint,
        theatre_addrs: [SocketAddr; 3],
        log: AuditLog,
        zone: TimeZone,
        incarnation: u64,
        retry: RetryPolicy,
        doorbells: &Doorbells,
    ) -> TheatreServer {
        let endpoint = Rc::new(endpoint);
        let doorbell = Rc::new(Doorbell::default());
        doorbells.register(theatre_addrs[code.index()], &doorbell);
        if let Ok(local) = endpoint.local_addr() {
            doorbells.register(local, &doorbell);
        }
        TheatreServer {
            code,
            theatre: RefCell::new(Theatre::new(code)),
            client: RpcClient::new(Rc::clone(&endpoint), incarnation, retry).with_doorbells(doorbells.clone()),
            endpoint,
            theatre_addrs,
            responder: RefCell::new(Responder::default()),
            doorbell,
            doorbells: doorbells.clone(),
            log: RefCell::new(log),
            zone,
            today: TodayCache::default(),
            malformed: Cell::new(0),
            calls_handled: Cell::new(0),
            replays: Cell::new(0),
            ignored: Cell::new(0),
            relays: Cell::new(0),
            relay_hops: Cell::new(0),
        }
    }

    pub fn code(&self) -> TheatreCode {
        self.code
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn stats(&self) -> TheatreStats {
        TheatreStats {
            malformed: self.malformed.get(),
            framing_rejected: self.endpoint.malformed_count(),
            calls_handled: self.calls_handled.get(),
            replays: self.replays.get(),
            ignored: self.ignored.get(),
            resends: self.client.resends(),
            stray_replies: self.client.stray_replies(),
            relays: self.relays.get(),
            relay_hops: self.relay_hops.get(),
        }
    }

    /// The theatre's canonical snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        self.theatre.borrow().snapshot()
    }

    /// Replaces the theatre's whole state (state transfer). The caller guarantees that no job is running.
    pub fn replace_theatre(&self, theatre: Theatre) {
        assert_eq!(theatre.code(), self.code, "a theatre server only holds its own theatre");
        *self.theatre.borrow_mut() = theatre;
    }

    pub fn flush_log(&self) {
        self.log.borrow_mut().flush();
    }

    pub fn note(&self, text: &str) {
        self.log.borrow_mut().note(text);
    }

    /// Runs one job as its caller's home theatre server: the coordinator, reaching this theatre directly and the
    /// others over UDP; then logs it. The caller guarantees one job at a time, replica-wide.
    pub async fn run_job(&self, job_id: u64, timestamp_ms: i64, request: &Request) -> Response {
        let today = self.today.today(timestamp_ms, &self.zone);
        let response = coordinator::execute(self.code, &mut UdpPeers { server: self }, request, today).await;
        self.log.borrow_mut().record(job_id, timestamp_ms, request, &response);
        response
    }

    /// The receive loop: answers calls (peer requests, routed jobs, snapshots) and delivers replies to this
    /// server's pending calls. Returns only on a socket error. Must run inside a `LocalSet` (routed jobs are
    /// spawned as local tasks so that the loop keeps serving while they wait).
    pub async fn serve(self: Rc<Self>) -> io::Result<()> {
        let mut reply = Vec::new();
        loop {
            let (message, from) = self.next_message().await?;
            let envelope = match Envelope::decode(&message) {
                Ok(envelope) => envelope,
                Err(error) => {
                    self.count_malformed(from, &error);
                    continue;
                }
            };
            if envelope.kind == Kind::Reply {
                let (incarnation, request_id) = (envelope.incarnation, envelope.request_id);
                self.client.deliver(incarnation, request_id, message);
                continue;
            }
            if envelope.op == Op::Relay {
                // Not admitted through the responder: a relay carries only reads, so serving a retried or
                // duplicated one again changes nothing, and the origin ignores a second reply. (Admitting it would
                // also be wrong: a passed-on relay arrives from the previous hop with the origin's incarnation and
                // request id, which would reset or collide with that hop's own entries in the duplicate filter.)
                self.serve_relay(&envelope, from, &mut reply).await;
                continue;
            }
            let admission = self.responder.borrow_mut().admit(from, envelope.incarnation, envelope.request_id);
            match admission {
                Admission::New => {}
                Admission::Replay(message) => {
                    self.replays.set(self.replays.get() + 1);
                    self.send(&message, from).await;
                    continue;
                }
                Admission::InProgress | Admission::Stale => {
                    self.ignored.set(self.ignored.get() + 1);
                    continue;
                }
            }
            match envelope.op {
                Op::Peer => {
                    let request = match PeerRequest::decode(envelope.payload) {
                        Ok(request) => request,
                        Err(error) => {
                            // Left "in progress" in the responder: its retries are ignored too.
                            self.count_malformed(from, &error);
                            continue;
                        }
                    };
                    self.calls_handled.set(self.calls_handled.get() + 1);
                    let response = self.theatre.borrow_mut().handle(request);
                    self.complete_with(&envelope, from, |out| response.encode_into(out), &mut reply).await;
                }
                Op::Relay => unreachable!("relay calls are served above, without admission"),
                Op::Snapshot => {
                    let snapshot = self.snapshot();
                    self.complete(&envelope, from, &snapshot, &mut reply).await;
                }
                Op::Run => {
                    let decoded = RunCall::decode(envelope.payload)
                        .map_err(|error| error.to_string())
                        .and_then(|call| Ok((call, Request::decode(call.request).map_err(|e| e.to_string())?)));
                    let (call, request) = match decoded {
                        Ok(decoded) => decoded,
                        Err(error) => {
                            self.count_malformed(from, &error);
                            continue;
                        }
                    };
                    let server = Rc::clone(&self);
                    let (incarnation, request_id, job_id, timestamp_ms) =
                        (envelope.incarnation, envelope.request_id, call.job_id, call.timestamp_ms);
                    tokio::task::spawn_local(async move {
                        let response = server.run_job(job_id, timestamp_ms, &request).await;
                        let envelope =
                            Envelope { kind: Kind::Call, op: Op::Run, incarnation, request_id, payload: &[] };
                        let mut reply = Vec::new();
                        server.complete(&envelope, from, &response.encode(), &mut reply).await;
                    });
                }
            }
        }
    }

    /// Answers this server's hop of a relay call and passes the call on, or replies to its origin after the last
    /// hop. Anything but a read for this theatre at the current hop is dropped as malformed.
    async fn serve_relay(&self, envelope: &Envelope<'_>, from: SocketAddr, out: &mut Vec<u8>) {
        let call = match RelayCall::decode(envelope.payload) {
            Ok(call) => call,
            Err(error) => return self.count_malformed(from, &error),
        };
        let hop = call.replies.len();
        let origin = TheatreCode::ALL.get(call.origin as usize).copied();
        let (Some(origin), Some(&(theatre, request))) = (origin, call.hops.get(hop)) else {
            return self.count_malformed(from, &"relay call with an unknown origin");
        };
        if theatre as usize != self.code.index() {
            return self.count_malformed(from, &"relay call at the wrong hop");
        }
        let request = match PeerRequest::decode(request) {
            Ok(request) if !request.is_mutation() => request,
            Ok(_) => return self.count_malformed(from, &"relay call with a mutation"),
            Err(error) => return self.count_malformed(from, &error),
        };
        let (kind, to) = match call.hops.get(hop + 1) {
            None => (Kind::Reply, origin),
            Some(&(next, _)) => match TheatreCode::ALL.get(next as usize) {
                Some(&next) => (Kind::Call, next),
                None => return self.count_malformed(from, &"relay call with an unknown theatre"),
            },
        };
        self.relay_hops.set(self.relay_hops.get() + 1);
        let response = self.theatre.borrow_mut().handle(request).encode();
        let mut replies = call.replies.clone();
        replies.push(&response);
        Envelope {
            kind,
            op: Op::Relay,
            incarnation: envelope.incarnation,
            request_id: envelope.request_id,
            payload: &[],
        }
        .encode_into(out);
        match kind {
            Kind::Call => RelayCall { replies, ..call }.encode_into(out),
            Kind::Reply => crate::wire::encode_relay_reply(&replies, out),
        }
        self.send(out, self.theatre_addrs[to.index()]).await;
    }

    /// The next message for this server: read at once when a server of this process rang the doorbell, else
    /// when the reactor reports the socket readable (messages from other processes, or rings that found nothing).
    async fn next_message(&self) -> io::Result<(Vec<u8>, SocketAddr)> {
        loop {
            if self.doorbell.take() {
                if let Some(received) = self.endpoint.recv_from_now()? {
                    return Ok(received);
                }
                // Empty: the announced messages were read already; anything still on its way is reported by the
                // reactor.
                self.doorbell.clear();
                continue;
            }
            tokio::select! {
                biased;
                () = self.doorbell.rung() => {}
                readable = self.endpoint.readable() => {
                    readable?;
                    if let Some(received) = self.endpoint.try_recv_from()? {
                        return Ok(received);
                    }
                }
            }
        }
    }

    /// Encodes the reply to `call`, remembers it for retries, and sends it.
    async fn complete(&self, call: &Envelope<'_>, to: SocketAddr, payload: &[u8], reply: &mut Vec<u8>) {
        self.complete_with(call, to, |out| out.extend_from_slice(payload), reply).await;
    }

    /// [`TheatreServer::complete`] with the payload written by `write_payload` straight after the header.
    async fn complete_with(
        &self,
        call: &Envelope<'_>,
        to: SocketAddr,
        write_payload: impl FnOnce(&mut Vec<u8>),
        reply: &mut Vec<u8>,
    ) {
        Envelope {
            kind: Kind::Reply,
            op: call.op,
            incarnation: call.incarnation,
            request_id: call.request_id,
            payload: &[],
        }
        .encode_into(reply);
        write_payload(reply);
        self.responder.borrow_mut().complete(to, call.incarnation, call.request_id, reply);
        self.send(reply, to).await;
    }

    async fn send(&self, message: &[u8], to: SocketAddr) {
        match self.endpoint.send_to(message, to).await {
            Ok(()) => self.doorbells.ring(to),
            // A lost reply: the caller retries and gets it from the reply cache.
            Err(error) => tracing::debug!(theatre = %self.code, %error, %to, "reply not sent"),
        }
    }

    fn count_malformed(&self, from: SocketAddr, error: &dyn std::fmt::Display) {
        self.malformed.set(self.malformed.get() + 1);
        tracing::debug!(theatre = %self.code, %from, %error, "malformed message dropped");
    }

    /// Boxed: the call's future (retry timer, send state) is several hundred bytes, and the coordinator's futures
    /// move it by value a few times per call; a pointer is cheaper to move than the allocation is to make.
    fn call_remote(&self, to: TheatreCode, request: &PeerRequest) -> Pin<Box<dyn Future<Output = PeerResponse> + '_>> {
        debug_assert_ne!(to, self.code);
        Box::pin(self.client.call_with(
            self.theatre_addrs[to.index()],
            Op::Peer,
            &mut |out| request.encode_into(out),
            |bytes| PeerResponse::decode(bytes).ok(),
        ))
    }

    /// Two reads at the other two theatres in one relay call (see [`UdpPeers`]), answered in that order; boxed like
    /// [`TheatreServer::call_remote`].
    fn call_relay(
        &self,
        reads: [(TheatreCode, &PeerRequest); 2],
    ) -> Pin<Box<dyn Future<Output = [PeerResponse; 2]> + '_>> {
        let [(first, _), (second, _)] = reads;
        debug_assert!(first != self.code && second != self.code && first != second);
        let theatres = [first.index() as u8, second.index() as u8];
        Box::pin(self.client.call_with(
            self.theatre_addrs[first.index()],
            Op::Relay,
            &mut |out| {
                RelayCall::encode_fresh(self.code.index() as u8, &theatres, out, |hop, out| {
                    reads[hop].1.encode_into(out)
                })
            },
            |bytes| {
                let replies = crate::wire::decode_relay_reply(bytes, 2).ok()?;
                Some([PeerResponse::decode(replies[0]).ok()?, PeerResponse::decode(replies[1]).ok()?])
            },
        ))
    }
}

/// `booking::time::today`, remembered for the last whole Unix second asked about.
#[derive(Debug, Default)]
struct TodayCache {
    last: Cell<Option<(i64, booking::Date)>>,
}

impl TodayCache {
    fn today(&self, timestamp_ms: i64, zone: &TimeZone) -> booking::Date {
        let second = timestamp_ms.div_euclid(1000);
        if let Some((cached_second, date)) = self.last.get()
            && cached_second == second
        {
            return date;
        }
        let date = booking::time::today(timestamp_ms, zone);
        // Outside jiff's range `today` clamps; only seconds whose every millisecond is in range are remembered.
        let first_ms = second.checked_mul(1000);
        let in_range = [first_ms, first_ms.and_then(|first_ms| first_ms.checked_add(999))]
            .iter()
            .all(|millisecond| millisecond.is_some_and(|ms| jiff::Timestamp::from_millisecond(ms).is_ok()));
        if in_range {
            self.last.set(Some((second, date)));
        }
        date
    }
}

/// The coordinator's view of the theatres from one theatre server: its own theatre directly, the others over UDP.
///
/// Reads at both other theatres ([`Peers::read_all`]: a listing, a schedule, the bookings a booking rule needs) travel
/// as one relay call ([`RelayCall`]): origin → first → second → origin, three datagrams instead of the four of two
/// calls, because the first theatre's answer rides on with the call.
struct UdpPeers<'a> {
    server: &'a TheatreServer,
}

impl Peers for UdpPeers<'_> {
    fn call(&mut self, to: TheatreCode, request: PeerRequest) -> impl Future<Output = PeerResponse> {
        let server = self.server;
        let call = if to == server.code {
            Call::Answered(server.theatre.borrow_mut().handle(request))
        } else {
            Call::Remote(server.call_remote(to, &request))
        };
        async move {
            match call {
                Call::Answered(response) => response,
                Call::Remote(remote) => remote.await,
            }
        }
    }

    fn read_all(&mut self, reads: Vec<(TheatreCode, PeerRequest)>) -> impl Future<Output = Vec<PeerResponse>> {
        let server = self.server;
        debug_assert!(reads.iter().all(|(_, request)| !request.is_mutation()), "read_all with a mutation");
        // Own reads at once: nothing the remote reads do changes anything.
        let mut answers: Vec<Option<PeerResponse>> = reads
            .iter()
            .map(|(to, request)| (*to == server.code).then(|| server.theatre.borrow_mut().handle(request.clone())))
            .collect();
        let remote: Vec<usize> = (0..reads.len()).filter(|&index| answers[index].is_none()).collect();
        let calls = match remote.as_slice() {
            &[first, second] if reads[first].0 != reads[second].0 => {
                server.relays.set(server.relays.get() + 1);
                Calls::Relay(
                    server.call_relay([(reads[first].0, &reads[first].1), (reads[second].0, &reads[second].1)]),
                )
            }
            _ => Calls::Each(remote.iter().map(|&index| server.call_remote(reads[index].0, &reads[index].1)).collect()),
        };
        async move {
            match calls {
                Calls::Relay(relay) => {
                    let [first, second] = relay.await;
                    answers[remote[0]] = Some(first);
                    answers[remote[1]] = Some(second);
                }
                Calls::Each(each) => {
                    for (&index, call) in remote.iter().zip(each) {
                        answers[index] = Some(call.await);
                    }
                }
            }
            answers.into_iter().map(|answer| answer.expect("every read is answered above")).collect()
        }
    }
}

/// One [`Peers::call`]: answered at once by this theatre, or on its way to another.
enum Call<'a> {
    Answered(PeerResponse),
    Remote(Pin<Box<dyn Future<Output = PeerResponse> + 'a>>),
}

/// How the remote reads of one [`Peers::read_all`] travel.
enum Calls<'a> {
    /// Two remote reads: one relay call.
    Relay(Pin<Box<dyn Future<Output = [PeerResponse; 2]> + 'a>>),
    /// Fewer (or one theatre asked twice): one call each, all sent at once.
    Each(Vec<Pin<Box<dyn Future<Output = PeerResponse> + 'a>>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered date is exactly `booking::time::today`: across midnight and a daylight-saving change in
    /// Montreal, before 1970, at jiff's range limits and beyond them, in any order of calls.
    #[test]
    fn remembered_today_matches_booking_today() {
        let zone = booking::time::montreal();
        let parse = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let mut instants = vec![0, -1, -999, -1000, -1001, 999, 1000, i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1];
        for base in [
            parse("2026-11-01T06:00:00Z"), // EDT to EST
            parse("2026-11-22T05:00:00Z"), // midnight EST
            parse("2026-03-08T07:00:00Z"), // EST to EDT
            jiff::Timestamp::MIN.as_millisecond(),
            jiff::Timestamp::MAX.as_millisecond(),
        ] {
            for delta_ms in [-3_600_001, -1_001, -1_000, -999, -1, 0, 1, 999, 1_000, 3_600_000] {
                instants.push(base.saturating_add(delta_ms));
            }
        }
        let cache = TodayCache::default();
        for round in 0..2 {
            for (index, &ms) in instants.iter().enumerate() {
                let ms = if round == 0 { ms } else { instants[instants.len() - 1 - index] };
                assert_eq!(cache.today(ms, &zone), booking::time::today(ms, &zone), "{ms}");
                assert_eq!(cache.today(ms, &zone), booking::time::today(ms, &zone), "{ms}, asked again");
            }
        }
    }
}
