//! An in-test SOAP server for driving the real `cineflix` binary: hyper on loopback,
//! `soap::parse_request` → `booking::Replica::execute` → `soap::render_response`, the same
//! pipeline as the standalone front end minus replication. The test process plays the
//! sequencer: each request is stamped with the wall clock.
//!
//! It is deliberately not the real front end (that binary lives in another package and
//! needs a replica process); it exists so that exit codes, tables, JSON, logs, the
//! interactive mode and the load generator can be tested without them. A `Mode` makes it
//! answer every request with a fault or a plain HTTP error instead.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer every request from one in-memory replica.
    Replica,
    /// Answer every request with a SOAP `ServiceUnavailable` fault (HTTP 500 in SOAP 1.1).
    AlwaysFault,
    /// Answer every request with a bare HTTP 404.
    NotFound,
}

#[derive(Debug)]
pub struct FakeServer {
    /// e.g. `http://127.0.0.1:41234/cineflix`.
    pub url: String,
    /// Requests received so far (to prove a usage error sent nothing).
    requests: Arc<AtomicUsize>,
    /// Dropping it stops the accept loop; the thread is joined in `Drop`.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(mode: Mode) -> FakeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}/cineflix", listener.local_addr().expect("local address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let (shutdown, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let counter = requests.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let replica = Arc::new(Mutex::new(booking::Replica::new()));
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let _ = stream.set_nodelay(true);
                    let replica = replica.clone();
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let replica = replica.clone();
                            let counter = counter.clone();
                            async move {
                                counter.fetch_add(1, Ordering::SeqCst);
                                let body = request.into_body().collect().await?.to_bytes();
                                Ok::<_, hyper::Error>(answer(mode, &replica, &body))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        FakeServer { url, requests, shutdown: Some(shutdown), thread: Some(thread) }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(mode: Mode, replica: &Mutex<booking::Replica>, body: &[u8]) -> hyper::Response<Full<Bytes>> {
    let (status, content_type, bytes) = match mode {
        Mode::NotFound => (404, "text/plain", b"no such path".to_vec()),
        Mode::AlwaysFault => {
            let fault = soap::Fault::new(
                soap::SoapVersion::V11,
                soap::FaultKind::ServiceUnavailable,
                "no agreeing majority of replicas in time",
            );
            (fault.http_status(), soap::SoapVersion::V11.content_type(), fault.render())
        }
        Mode::Replica => match soap::parse_request(body) {
            Err(fault) => (fault.http_status(), fault.version.content_type(), fault.render()),
            Ok(parsed) => {
                let now_ms = jiff::Timestamp::now().as_millisecond();
                let response = replica.lock().expect("replica lock").execute(&parsed.request, now_ms);
                (200, parsed.version.content_type(), soap::render_response(parsed.version, &parsed.request, &response))
            }
        },
    };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}
