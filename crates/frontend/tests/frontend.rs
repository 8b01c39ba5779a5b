//! The front end over real HTTP and real UDP: routes, HTTP errors, SOAP faults, every operation end to end
//! against a fake replica, keep-alive, limits, timeouts and graceful shutdown.
//!
//! Everything runs in-process on ephemeral loopback ports. Where a test must show that something does *not*
//! happen (a connection beyond the limit is not served), it waits a short bounded time for the wrong thing and
//! then shows the right thing happens once the condition changes.

mod support;

use booking::{Operation, Request, ResultCode};
use hyper::{Method, StatusCode};
use soap::{ClientError, FaultKind, SoapVersion};
use std::time::{Duration, Instant};
use support::{Client, FakeReplica, PATIENCE, RunningFrontend, test_config, today, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn request(user_id: &str, operation: Operation) -> Request {
    Request { user_id: user_id.to_string(), operation }
}

async fn healthy() -> (FakeReplica, RunningFrontend) {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let frontend = RunningFrontend::start(test_config(replica.addr)).await;
    (replica, frontend)
}

#[tokio::test]
async fn wsdl_is_served_with_an_address_clients_can_reach() {
    let (_replica, frontend) = healthy().await;
    let mut client = Client::connect(frontend.addr).await;
    for (uri, host, expected) in [
        ("/cineflix?wsdl", "shop.example:8443", "http://shop.example:8443/cineflix".to_string()),
        ("/cineflix?WSDL", "localhost:9", "http://localhost:9/cineflix".to_string()),
        ("/cineflix?wsdl=", "[::1]:8080", "http://[::1]:8080/cineflix".to_string()),
        // A client that reached 0.0.0.0 gets the concrete address its connection reached.
        ("/cineflix?Wsdl", "0.0.0.0:8080", format!("http://{}/cineflix", frontend.addr)),
    ] {
        let answer = client.send(Method::GET, uri, &[("host", host)], Vec::new()).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.header("content-type"), "text/xml; charset=utf-8");
        let wsdl = answer.text();
        assert_eq!(wsdl.matches(&format!(r#"location="{expected}""#)).count(), 2, "{uri} Host {host}: {wsdl}");
        assert!(!wsdl.contains("0.0.0.0"));
    }
    frontend.stop().await;

    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let mut config = test_config(replica.addr);
    config.frontend.public_url = "https://tickets.example/cineflix".to_string();
    let frontend = RunningFrontend::start(config).await;
    let mut client = Client::connect(frontend.addr).await;
    let answer = client.send(Method::GET, "/cineflix?wsdl", &[("host", "internal:1")], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text().matches(r#"location="https://tickets.example/cineflix""#).count(), 2);
    frontend.stop().await;
}

#[tokio::test]
async fn plain_http_errors_for_wrong_paths_methods_and_content_types() {
    let (_replica, frontend) = healthy().await;
    let mut client = Client::connect(frontend.addr).await;

    let answer = client.send(Method::GET, "/elsewhere?wsdl", &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = client.send(Method::POST, "/cineflix/extra", &[("content-type", "text/xml")], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let answer = client.send(method.clone(), "/cineflix", &[], Vec::new()).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.header("allow"), "GET, POST");
    }
    let answer = client.send(Method::GET, "/cineflix", &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "GET without ?wsdl");
    assert_eq!(answer.header("allow"), "POST");

    let envelope = soap::build_request(
        SoapVersion::V11,
        &request("ATWC0001", Operation::GetBookingSchedule { customer_id: "ATWC0001".to_string() }),
    );
    for content_type in [Some("application/json"), Some("application/xml"), Some("text/plain"), None] {
        let headers: Vec<(&str, &str)> = content_type.map(|value| ("content-type", value)).into_iter().collect();
        let answer = client.send(Method::POST, "/cineflix", &headers, envelope.clone()).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
    }
    // The same envelope with acceptable content types in unusual spellings is served.
    for content_type in ["TEXT/XML", "text/xml;charset=UTF-8", "application/soap+xml; action=\"x\""] {
        let answer = client.send(Method::POST, "/cineflix", &[("content-type", content_type)], envelope.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{content_type}: {}", answer.text());
    }
    frontend.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413_whether_declared_or_chunked() {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let mut config = test_config(replica.addr);
    config.frontend.max_body_bytes = 2048;
    let frontend = RunningFrontend::start(config).await;

    let mut client = Client::connect(frontend.addr).await;
    let answer = client.send(Method::POST, "/cineflix", &[("content-type", "text/xml")], vec![b'x'; 2049]).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Chunked, no Content-Length: the limit must trip while reading. The client keeps sending chunks the server
    // will never read; the answer must arrive anyway.
    let mut stream = TcpStream::connect(frontend.addr).await.unwrap();
    let head = "POST /cineflix HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", "y".repeat(0x400));
    for _ in 0..3 {
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    let mut received = Vec::new();
    let _ = within("the 413 answer", async {
        let mut buffer = [0u8; 1024];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 413"), "got {text:?}");

    // A body exactly at the limit is read and parsed (and is not a valid envelope). The 413 closed the first
    // connection (its body was never read), so this needs a new one.
    let mut client = Client::connect(frontend.addr).await;
    let answer = client.send(Method::POST, "/cineflix", &[("content-type", "text/xml")], vec![b' '; 2048]).await;
    assert_ne!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    frontend.stop().await;
}

/// Checks that `body` sent with `content_type` gets the fault the soap crate decides, with its status and
/// content type, and that this fault is of `expected` kind.
async fn check_fault(client: &mut Client, content_type: &str, body: &str, expected: FaultKind) -> StatusCode {
    let decided = soap::parse_request(body.as_bytes()).expect_err("the test envelope must be faulty");
    assert_eq!(decided.kind, expected, "the soap crate's verdict on {body}");
    let answer =
        client.send(Method::POST, "/cineflix", &[("content-type", content_type)], body.as_bytes().to_vec()).await;
    assert_eq!(answer.status.as_u16(), decided.http_status(), "{body}");
    assert_eq!(answer.header("content-type"), decided.version.content_type(), "{body}");
    match soap::parse_response(&answer.body) {
        Err(ClientError::Fault { code, .. }) => assert_eq!(code, expected.code(), "{body}"),
        other => panic!("expected a fault for {body}, got {other:?}"),
    }
    answer.status
}

#[tokio::test]
async fn faults_for_requests_that_cannot_be_processed() {
    let (_replica, frontend) = healthy().await;
    let mut client = Client::connect(frontend.addr).await;
    let env11 = |body: &str| {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:cineflix:booking:v1"><s:Body>{body}</s:Body></s:Envelope>"#
        )
    };
    let env12 = |body: &str| {
        format!(
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:c="urn:cineflix:booking:v1"><e:Body>{body}</e:Body></e:Envelope>"#
        )
    };
    let unknown = "<c:buyPopcorn><c:userID>ATWC0001</c:userID></c:buyPopcorn>";
    let missing = "<c:getBookingSchedule><c:userID>ATWC0001</c:userID></c:getBookingSchedule>";

    let status = check_fault(&mut client, "text/xml", &env11(unknown), FaultKind::UnknownOperation).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "SOAP 1.1 faults are always 500");
    let status = check_fault(&mut client, "application/soap+xml", &env12(unknown), FaultKind::UnknownOperation).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "SOAP 1.2 sender faults are 400");
    check_fault(&mut client, "text/xml", &env11(missing), FaultKind::MissingElement).await;
    check_fault(&mut client, "application/soap+xml", &env12(missing), FaultKind::MissingElement).await;
    check_fault(&mut client, "text/xml", &env11("<c:getBookingSchedule>"), FaultKind::MalformedXml).await;
    check_fault(&mut client, "text/xml", "this is not xml", FaultKind::MalformedXml).await;
    let doctype = format!(r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>{}"#, env11(missing));
    check_fault(&mut client, "text/xml", &doctype, FaultKind::DoctypeForbidden).await;
    // The connection survives faults (keep-alive) and still serves a good request.
    let schedule = request("ATWC0001", Operation::GetBookingSchedule { customer_id: "ATWC0001".to_string() });
    let answer = client.call(SoapVersion::V12, &schedule).await;
    assert_eq!(answer.response.code, ResultCode::Ok);
    frontend.stop().await;
}

#[tokio::test]
async fn every_operation_end_to_end_matches_a_reference_replica() {
    let (replica, frontend) = healthy().await;
    let date = today().plus_days(3).ddmmyy();
    let later = today().plus_days(4).ddmmyy();
    let (atw_e, atw_m, out_a) = (format!("ATWE{date}"), format!("ATWM{later}"), format!("OUTA{date}"));
    let s = |text: &str| text.to_string();
    let script = [
        request(
            "ATWA0001",
            Operation::AddMovieSlots { movie_id: s(&atw_e), movie_name: s("avatar"), booking_capacity: 10 },
        ),
        request(
            "ATWA0001",
            Operation::AddMovieSlots { movie_id: s(&atw_m), movie_name: s("Avatar"), booking_capacity: 5 },
        ),
        request(
            "OUTA0001",
            Operation::AddMovieSlots { movie_id: s(&out_a), movie_name: s("Titanic"), booking_capacity: 2 },
        ),
        request(
            "ATWC0007",
            Operation::BookMovieTickets {
                customer_id: s("ATWC0007"),
                movie_id: s(&atw_e),
                movie_name: s("Avatar"),
                number_of_tickets: 4,
            },
        ),
        request(
            "VERC0001",
            Operation::BookMovieTickets {
                customer_id: s("VERC0001"),
                movie_id: s(&out_a),
                movie_name: s("Titanic"),
                number_of_tickets: 3,
            },
        ),
        request("ATWC0007", Operation::ListMovieShowsAvailability { movie_name: s("Avatar") }),
        request("ATWC0007", Operation::GetBookingSchedule { customer_id: s("ATWC0007") }),
        request(
            "ATWC0007",
            Operation::CancelMovieTickets {
                customer_id: s("ATWC0007"),
                movie_id: s(&atw_e),
                movie_name: s("Avatar"),
                number_of_tickets: 1,
            },
        ),
        request(
            "ATWA0001",
            Operation::ExchangeTickets {
                customer_id: s("ATWC0007"),
                movie_id: s(&atw_e),
                movie_name: s("Avatar"),
                new_movie_id: s(&atw_m),
                new_movie_name: s("Avatar"),
                number_of_tickets: 2,
            },
        ),
        request("ATWA0001", Operation::RemoveMovieSlots { movie_id: s(&atw_e), movie_name: s("Avatar") }),
        request("ATWC0007", Operation::GetBookingSchedule { customer_id: s("ATWC0007") }),
        request("OUTA0001", Operation::RemoveMovieSlots { movie_id: s(&atw_m), movie_name: s("Avatar") }),
    ];
    let mut reference = booking::Replica::new();
    let mut client = Client::connect(frontend.addr).await;
    let mut codes = Vec::new();
    for (index, step) in script.iter().enumerate() {
        // Alternate SOAP versions so both ports are exercised on one keep-alive connection.
        let version = if index % 2 == 0 { SoapVersion::V11 } else { SoapVersion::V12 };
        let answer = client.call(version, step).await;
        let timestamp_ms = *replica.log.lock().unwrap().timestamps_ms.last().unwrap();
        let expected = reference.execute(step, timestamp_ms);
        assert_eq!(answer.response, expected, "step {index}: {}", step.operation.name());
        assert_eq!(answer.message, expected.message(step), "step {index}");
        codes.push(answer.response.code);
    }
    use ResultCode::*;
    assert_eq!(codes, [Ok, Ok, Ok, Ok, SoldOut, Ok, Ok, Ok, Ok, Ok, Ok, NotAuthorized], "the script's outcomes");
    {
        let log = replica.log.lock().unwrap();
        assert_eq!(log.executed, (1..=script.len() as u64).collect::<Vec<_>>(), "job ids 1, 2, 3, ... in order");
        assert!(log.violations.is_empty(), "{:?}", log.violations);
    }
    assert!(!client.connection.is_finished(), "one keep-alive connection carried the whole script");
    frontend.stop().await;
}

#[tokio::test]
async fn answers_survive_a_lossy_duplicating_reordering_link() {
    let faults = udp::LinkFaults { drop: 0.2, duplicate: 0.2, reorder: 0.2, delay_ms: 2 };
    let replica = FakeReplica::start(faults.clone()).await;
    let mut config = test_config(replica.addr);
    config.faults =
        config::LinkFaults { drop: faults.drop, duplicate: faults.duplicate, reorder: faults.reorder, delay_ms: 2 };
    config.frontend.retry_ms = 5;
    let frontend = RunningFrontend::start(config).await;
    let requests_per_client: usize =
        std::env::var("FRONTEND_LOSSY_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let date = today().plus_days(2).ddmmyy();
    let mut admin = Client::connect(frontend.addr).await;
    let add = request(
        "VERA0001",
        Operation::AddMovieSlots {
            movie_id: format!("VERE{date}"),
            movie_name: "Titanic".to_string(),
            booking_capacity: 10_000,
        },
    );
    assert_eq!(admin.call(SoapVersion::V11, &add).await.response.code, ResultCode::Ok);
    let mut tasks = Vec::new();
    for customer in 0..4 {
        let addr = frontend.addr;
        let date = date.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let customer_id = format!("VERC{customer:04}");
            for _ in 0..requests_per_client {
                let book = request(
                    &customer_id,
                    Operation::BookMovieTickets {
                        customer_id: customer_id.clone(),
                        movie_id: format!("VERE{date}"),
                        movie_name: "Titanic".to_string(),
                        number_of_tickets: 1,
                    },
                );
                assert_eq!(client.call(SoapVersion::V11, &book).await.response.code, ResultCode::Ok);
            }
            let schedule = request(&customer_id, Operation::GetBookingSchedule { customer_id: customer_id.clone() });
            let answer = client.call(SoapVersion::V12, &schedule).await;
            match answer.response.body {
                booking::Body::Schedule(entries) => {
                    assert_eq!(entries.len(), 1);
                    assert_eq!(entries[0].tickets as usize, requests_per_client, "each booking applied exactly once");
                }
                other => panic!("unexpected body {other:?}"),
            }
        }));
    }
    for task in tasks {
        within("the clients to finish", task).await.unwrap();
    }
    {
        let log = replica.log.lock().unwrap();
        let total = 1 + 4 * (requests_per_client + 1);
        assert_eq!(log.executed, (1..=total as u64).collect::<Vec<_>>(), "every job executed once, in id order");
        assert!(log.timestamps_ms.windows(2).all(|w| w[0] <= w[1]), "timestamps never go backwards");
        assert!(log.violations.is_empty(), "{:?}", log.violations);
    }
    frontend.stop().await;
}

#[tokio::test]
async fn unreachable_replica_gives_service_unavailable_after_the_timeout() {
    // A bound socket that never answers: the front end's datagrams go nowhere useful.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut config = test_config(silent.local_addr().unwrap());
    config.frontend.request_timeout_ms = 300;
    let frontend = RunningFrontend::start(config).await;
    let mut client = Client::connect(frontend.addr).await;
    let schedule = request("ATWC0001", Operation::GetBookingSchedule { customer_id: "ATWC0001".to_string() });
    for version in [SoapVersion::V11, SoapVersion::V12] {
        let started = Instant::now();
        let answer = client.soap(version, soap::build_request(version, &schedule)).await;
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "answered after {elapsed:?}, before the timeout");
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "a Receiver fault in both versions");
        assert_eq!(answer.header("content-type"), version.content_type());
        match soap::parse_response(&answer.body) {
            Err(ClientError::Fault { code, .. }) => assert_eq!(code, FaultKind::ServiceUnavailable.code()),
            other => panic!("expected ServiceUnavailable, got {other:?}"),
        }
    }
    frontend.stop().await;
}

#[tokio::test]
async fn header_timeout_closes_a_slow_client() {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let mut config = test_config(replica.addr);
    config.frontend.header_timeout_ms = 200;
    let frontend = RunningFrontend::start(config).await;
    let mut stream = TcpStream::connect(frontend.addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"POST /cineflix HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    let read = within("the server to close the slow connection", stream.read(&mut buffer)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "expected the connection closed, got {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(200), "closed after {:?}", started.elapsed());
    // A prompt client on another connection is unaffected.
    let mut client = Client::connect(frontend.addr).await;
    let answer = client.send(Method::GET, "/cineflix?wsdl", &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    frontend.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let mut config = test_config(replica.addr);
    config.frontend.max_connections = 1;
    let frontend = RunningFrontend::start(config).await;
    let mut first = Client::connect(frontend.addr).await;
    assert_eq!(first.send(Method::GET, "/cineflix?wsdl", &[], Vec::new()).await.status, StatusCode::OK);

    let addr = frontend.addr;
    let mut second = tokio::spawn(async move {
        let mut second = Client::connect(addr).await;
        second.send(Method::GET, "/cineflix?wsdl", &[], Vec::new()).await.status
    });
    // Negative check, bounded: while the first connection is open, the second is not served.
    let early = tokio::time::timeout(Duration::from_millis(300), &mut second).await;
    assert!(early.is_err(), "the second connection was served while the first held the only slot: {early:?}");
    drop(first);
    let status = within("the second connection to be served", second).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    frontend.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let mut frontend = RunningFrontend::start(test_config(replica.addr)).await;
    let addr = frontend.addr;
    // An idle keep-alive connection must not hold up shutdown.
    let mut idle = Client::connect(addr).await;
    assert_eq!(idle.send(Method::GET, "/cineflix?wsdl", &[], Vec::new()).await.status, StatusCode::OK);

    replica.hold.send_replace(true);
    let mut received = replica.received.clone();
    let in_flight = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        let schedule = request("OUTC0003", Operation::GetBookingSchedule { customer_id: "OUTC0003".to_string() });
        client.call(SoapVersion::V11, &schedule).await
    });
    within("the replica to receive the job", received.wait_for(|count| *count >= 1)).await.unwrap();

    frontend.begin_shutdown();
    within("the idle connection to be closed", &mut idle.connection).await.unwrap().unwrap();
    // New connections are refused once the listener is gone (bounded wait for the condition).
    within("the listener to close", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(!frontend.task.as_ref().unwrap().is_finished(), "shutdown must wait for the in-flight request");

    replica.hold.send_replace(false);
    let answer = within("the in-flight answer", in_flight).await.unwrap();
    assert_eq!(answer.response.code, ResultCode::Ok);
    assert!(matches!(answer.response.body, booking::Body::Schedule(ref entries) if entries.is_empty()));
    let started = Instant::now();
    frontend.stop().await;
    assert!(started.elapsed() < PATIENCE);
}

/// Request headers, the envelope to send with them, and the version the answer must be in.
type HeaderCase<'a> = (&'a [(&'a str, &'a str)], &'a Vec<u8>, SoapVersion);

#[tokio::test]
async fn soap_action_is_ignored_in_every_form_real_clients_send() {
    let (_replica, frontend) = healthy().await;
    let mut client = Client::connect(frontend.addr).await;
    let list = request("VERC0002", Operation::ListMovieShowsAvailability { movie_name: "titanic".to_string() });
    let v11 = soap::build_request(SoapVersion::V11, &list);
    let v12 = soap::build_request(SoapVersion::V12, &list);
    let cases: [HeaderCase; 6] = [
        (
            &[
                ("content-type", "text/xml; charset=utf-8"),
                ("soapaction", "\"urn:cineflix:booking:v1/listMovieShowsAvailability\""),
            ],
            &v11,
            SoapVersion::V11,
        ),
        (&[("content-type", "text/xml; charset=utf-8"), ("soapaction", "urn:whatever")], &v11, SoapVersion::V11),
        (&[("content-type", "text/xml; charset=utf-8"), ("soapaction", "")], &v11, SoapVersion::V11),
        (&[("content-type", "text/xml;charset=UTF-8")], &v11, SoapVersion::V11),
        // zeep's SOAP 1.2 port: action in the content type and a SOAPAction header as well, both misleading here.
        (
            &[
                ("content-type", "application/soap+xml; charset=utf-8; action=\"urn:x/bookMovieTickets\""),
                ("soapaction", "\"urn:x/bookMovieTickets\""),
            ],
            &v12,
            SoapVersion::V12,
        ),
        (&[("content-type", "application/soap+xml")], &v12, SoapVersion::V12),
    ];
    for (headers, body, version) in cases {
        let answer = client.send(Method::POST, "/cineflix", headers, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{headers:?}: {}", answer.text());
        assert_eq!(answer.header("content-type"), version.content_type(), "answers in the request's version");
        let parsed = soap::parse_response(&answer.body).unwrap();
        assert_eq!(parsed.response.code, ResultCode::Ok, "{headers:?}");
        assert!(matches!(parsed.response.body, booking::Body::Shows(_)), "dispatched on the Body: {headers:?}");
    }
    frontend.stop().await;
}

#[tokio::test]
async fn a_restarted_front_end_continues_the_replica_job_sequence() {
    let replica = FakeReplica::start(udp::LinkFaults::default()).await;
    let date = today().plus_days(1).ddmmyy();
    let add = request(
        "OUTA0009",
        Operation::AddMovieSlots {
            movie_id: format!("OUTM{date}"),
            movie_name: "Avengers".to_string(),
            booking_capacity: 3,
        },
    );
    let book = request(
        "OUTC0009",
        Operation::BookMovieTickets {
            customer_id: "OUTC0009".to_string(),
            movie_id: format!("OUTM{date}"),
            movie_name: "Avengers".to_string(),
            number_of_tickets: 2,
        },
    );
    let first = RunningFrontend::start(test_config(replica.addr)).await;
    let mut client = Client::connect(first.addr).await;
    assert_eq!(client.call(SoapVersion::V11, &add).await.response.code, ResultCode::Ok);
    assert_eq!(client.call(SoapVersion::V11, &book).await.response.code, ResultCode::Ok);
    drop(client);
    first.stop().await;

    // A new front end must not start again at job 1: the replica would answer from its cache with the old
    // results (an OK booking) instead of executing the new request (which is sold out).
    let second = RunningFrontend::start(test_config(replica.addr)).await;
    let mut client = Client::connect(second.addr).await;
    assert_eq!(client.call(SoapVersion::V12, &book).await.response.code, ResultCode::SoldOut);
    {
        let log = replica.log.lock().unwrap();
        assert_eq!(log.executed, [1, 2, 3]);
        assert!(log.violations.is_empty(), "{:?}", log.violations);
    }
    second.stop().await;
}

#[tokio::test]
async fn a_replica_that_starts_after_the_front_end_is_found() {
    // Hold the replica's address with a plain socket until the front end is seen probing it.
    let probe_catcher = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = probe_catcher.local_addr().unwrap();
    let frontend = RunningFrontend::start(test_config(addr)).await;
    let schedule = request("ATWC0005", Operation::GetBookingSchedule { customer_id: "ATWC0005".to_string() });
    let address = frontend.addr;
    let call = tokio::spawn(async move { Client::connect(address).await.call(SoapVersion::V11, &schedule).await });
    let mut buffer = vec![0u8; 65_536];
    let (length, _) = within("the front end to probe the replica", probe_catcher.recv_from(&mut buffer)).await.unwrap();
    assert!(!buffer[..length].is_empty(), "a probe datagram");
    assert!(!call.is_finished(), "the request waits for a replica");
    drop(probe_catcher);
    let replica = FakeReplica::start_at(addr, udp::LinkFaults::default()).await;
    let answer = within("the answer once the replica is up", call).await.unwrap();
    assert_eq!(answer.response.code, ResultCode::Ok);
    assert_eq!(replica.log.lock().unwrap().executed, [1]);
    frontend.stop().await;
}
