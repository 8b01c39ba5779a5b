//! Test harness for the front end: an in-process front end on an ephemeral port, a fake replica that speaks the
//! replica-api over a `udp::Endpoint` and executes with `booking::Replica`, and a small hyper client.
//!
//! The fake replica is deliberately strict: it records every protocol violation it sees from its driver (ids
//! not contiguous from its `next_expected`, timestamps going backwards) so tests can assert there were none.

#![allow(dead_code)] // each test binary uses a different part of the harness

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use replica_api::{FromReplica, ToReplica};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Upper bound for any condition a test waits for; generous because CI shares two cores.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits for `future` at most [`PATIENCE`], failing the test with `what` otherwise.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

/// What the fake replica has seen, for assertions.
#[derive(Debug, Default)]
pub struct ReplicaLog {
    /// Every job id executed, in execution order.
    pub executed: Vec<u64>,
    /// Timestamps of executed jobs, in execution order.
    pub timestamps_ms: Vec<i64>,
    /// Protocol violations (should stay empty).
    pub violations: Vec<String>,
}

/// A replica executing with `booking::Replica`, speaking the replica-api semantics (go-back-N, result cache).
#[derive(Debug)]
pub struct FakeReplica {
    /// The replica's control address.
    pub addr: SocketAddr,
    /// What it has executed.
    pub log: Arc<Mutex<ReplicaLog>>,
    /// Number of Execute messages received so far (including retries), to wait on.
    pub received: watch::Receiver<u64>,
    /// While `true`, the replica reads but does not answer Execute messages (it still executes nothing).
    pub hold: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for FakeReplica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeReplica {
    /// Starts a fake replica on an ephemeral loopback port whose sends suffer `faults`.
    pub async fn start(faults: udp::LinkFaults) -> FakeReplica {
        FakeReplica::start_at("127.0.0.1:0".parse().unwrap(), faults).await
    }

    /// Starts a fake replica at `addr`.
    pub async fn start_at(addr: SocketAddr, faults: udp::LinkFaults) -> FakeReplica {
        let endpoint = udp::Endpoint::bind(addr, faults).await.unwrap();
        let addr = endpoint.local_addr().unwrap();
        let log = Arc::new(Mutex::new(ReplicaLog::default()));
        let (received_tx, received) = watch::channel(0u64);
        let (hold, mut hold_rx) = watch::channel(false);
        let task_log = Arc::clone(&log);
        let task = tokio::spawn(async move {
            let mut replica = booking::Replica::new();
            let mut next_expected = 1u64;
            let mut cache: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
            let mut last_timestamp_ms = i64::MIN;
            loop {
                let Ok((bytes, from)) = endpoint.recv_from().await else { continue };
                let message = match ToReplica::decode(&bytes) {
                    Ok(message) => message,
                    Err(error) => {
                        task_log.lock().unwrap().violations.push(format!("undecodable message: {error}"));
                        continue;
                    }
                };
                let reply = match message {
                    ToReplica::Status => FromReplica::Status { next_expected, digest: replica.digest() },
                    ToReplica::Execute { jobs } => {
                        received_tx.send_modify(|count| *count += 1);
                        // Wait until released; later (resent) messages queue up in the socket meanwhile.
                        let _ = hold_rx.wait_for(|held| !held).await;
                        let mut results = Vec::new();
                        let mut previous_id = None;
                        for job in jobs {
                            if previous_id.is_some_and(|previous| job.id != previous + 1) {
                                task_log.lock().unwrap().violations.push(format!("batch not contiguous at {}", job.id));
                            }
                            previous_id = Some(job.id);
                            if job.id == next_expected {
                                if job.timestamp_ms < last_timestamp_ms {
                                    task_log.lock().unwrap().violations.push(format!(
                                        "job {} timestamp {} < previous {}",
                                        job.id, job.timestamp_ms, last_timestamp_ms
                                    ));
                                }
                                last_timestamp_ms = job.timestamp_ms;
                                let encoded = replica.execute(&job.request, job.timestamp_ms).encode();
                                {
                                    let mut log = task_log.lock().unwrap();
                                    log.executed.push(job.id);
                                    log.timestamps_ms.push(job.timestamp_ms);
                                }
                                cache.push_back((job.id, encoded.clone()));
                                if cache.len() > replica_api::RESULT_CACHE_MIN {
                                    cache.pop_front();
                                }
                                next_expected += 1;
                                results.push((job.id, encoded));
                            } else if job.id < next_expected
                                && let Some((_, encoded)) = cache.iter().find(|(id, _)| *id == job.id)
                            {
                                results.push((job.id, encoded.clone()));
                            }
                        }
                        FromReplica::Executed { next_expected, results }
                    }
                    ToReplica::Snapshot | ToReplica::Restore { .. } | ToReplica::InjectFault(_) => {
                        task_log.lock().unwrap().violations.push("state transfer or fault message".to_string());
                        continue;
                    }
                };
                let _ = endpoint.send_to(&reply.encode(), from).await;
            }
        });
        FakeReplica { addr, log, received, hold, task }
    }
}

/// A front end running in-process.
#[derive(Debug)]
pub struct RunningFrontend {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Completing this starts graceful shutdown.
    shutdown: Option<oneshot::Sender<()>>,
    /// The server task; finishes once shutdown has drained every connection.
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningFrontend {
    /// Starts a standalone front end for `config` (its listen address is replaced by 127.0.0.1:0).
    pub async fn start(mut config: config::Config) -> RunningFrontend {
        config.frontend.listen = "127.0.0.1:0".parse().unwrap();
        config.frontend.udp = "127.0.0.1:0".parse().unwrap();
        let listener = TcpListener::bind(config.frontend.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move { frontend::run_standalone(&config, listener, shutdown_rx).await });
        RunningFrontend { addr, shutdown: Some(shutdown), task: Some(task) }
    }

    /// Begins graceful shutdown.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Begins graceful shutdown and waits for the server to finish.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        let task = self.task.take().unwrap();
        within("the front end to stop", task).await.unwrap().unwrap();
    }
}

impl Drop for RunningFrontend {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A configuration for tests: the given replica, short timeouts.
pub fn test_config(replica: SocketAddr) -> config::Config {
    let mut config = config::Config::default();
    config.standalone.control = replica;
    config.frontend.retry_ms = 20;
    config.frontend.request_timeout_ms = 5_000;
    config
}

/// One keep-alive HTTP/1.1 client connection.
#[derive(Debug)]
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    /// Finishes when the server closes the connection.
    pub connection: JoinHandle<hyper::Result<()>>,
}

/// An HTTP answer, fully read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |value| value.to_str().unwrap())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        Client { sender, connection: tokio::spawn(connection) }
    }

    /// Sends a request with the given headers and body and reads the whole answer.
    pub async fn send(&mut self, method: Method, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            builder = builder.header("host", "localhost");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(Bytes::from(body))).unwrap();
        within("the connection to be ready", self.sender.ready()).await.unwrap();
        let response = within("an HTTP answer", self.sender.send_request(request)).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = within("the answer body", body.collect()).await.unwrap().to_bytes();
        Answer { status: parts.status, headers: parts.headers, body }
    }

    /// POSTs a SOAP envelope of `version` to /cineflix.
    pub async fn soap(&mut self, version: soap::SoapVersion, envelope: Vec<u8>) -> Answer {
        let content_type = version.content_type();
        let mut headers = vec![("content-type", content_type)];
        if version == soap::SoapVersion::V11 {
            headers.push(("soapaction", "\"\""));
        }
        self.send(Method::POST, "/cineflix", &headers, envelope).await
    }

    /// Calls one operation and returns the decoded answer (panics on a fault or an HTTP error).
    pub async fn call(&mut self, version: soap::SoapVersion, request: &booking::Request) -> soap::ClientResponse {
        let answer = self.soap(version, soap::build_request(version, request)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{} answered {}: {}",
            request.operation.name(),
            answer.status,
            answer.text()
        );
        assert_eq!(answer.header("content-type"), version.content_type());
        soap::parse_response(&answer.body).unwrap()
    }
}

/// Today's date in the theatres' time zone, from the system clock (as the front end stamps it).
pub fn today() -> booking::Date {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    booking::time::today(now_ms, &booking::time::montreal())
}
