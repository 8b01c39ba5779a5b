//! Operator tools for a replicated deployment: `cineflix status` and `cineflix fault`.
//!
//! `status` asks every component the configuration names, each within a bound, and prints one row per component:
//! - the sequencer: a `Report` from a stale epoch (0) under the operator's node id [`OPERATOR_NODE_ID`]; by the
//!   ordering protocol the sequencer answers any stale message with `Sync{high_seq}` carrying its epoch. That
//!   reads without side effects (a stale message changes no state) and tells "up", the epoch and the last seq
//!   ordered;
//! - each replica manager: `rm::status::query_status` (its status protocol on its `manager` address);
//! - the front end: `GET /status` on its HTTP listener (the JSON of `frontend::ReplicatedBackend::status_json`).
//!
//! `fault` sends `rm::status::inject_fault` to one RM, which sets the fault on its current replica and answers
//! once the replica confirmed it.
//!
//! Exit codes: 0 everything answered (status) / the fault was confirmed (fault); 2 a component did not answer or
//! the fault was not confirmed; 64 usage errors. Deliberately not here: any decision about the cluster (the tools
//! only read and forward), or knowledge of the booking service.

use crate::cli::{FaultArgs, StatusArgs};
use crate::json::Json;
use crate::outcome::{EXIT_FAULT, EXIT_USAGE};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The ordering node id the status probe sends under (no deployment uses it for a real node).
pub const OPERATOR_NODE_ID: u16 = u16::MAX;

/// One row of the status table.
#[derive(Clone, Debug, Default, PartialEq)]
struct Row {
    component: String,
    address: String,
    up: bool,
    /// Last seq ordered (sequencer), delivered (RM) or seen in a result (front end).
    delivered: Option<u64>,
    /// Last seq executed by the replica (RM).
    executed: Option<u64>,
    /// Consecutive wrong results as the front end counts them (RM rows: the count the front end last reported).
    consecutive_wrong: Option<u64>,
    replacements: Option<u64>,
    /// The replica's own report (RM rows): the seq it has executed and its state digest there, in full hex.
    replica_seq: Option<u64>,
    digest: Option<String>,
    phase: String,
    /// Anything else worth a glance (incarnation, in_vote, errors).
    detail: String,
}

pub fn status(args: &StatusArgs, json: bool) -> u8 {
    let config = match config::Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cineflix: error: {error}");
            return EXIT_USAGE;
        }
    };
    let bound = Duration::from_millis(args.wait_ms);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cineflix: error: cannot start the runtime: {error}");
            return EXIT_FAULT;
        }
    };
    let mut rows = Vec::new();
    if config.frontend.mode == config::Mode::Replicated {
        rows.push(runtime.block_on(sequencer_row(&config, bound)));
        for replica in &config.replicas {
            rows.push(runtime.block_on(rm_row(replica.id, replica.manager, bound)));
        }
    }
    rows.push(frontend_row(&config, bound));
    if json {
        let rendered: Vec<Json> = rows.iter().map(row_json).collect();
        println!("{}", Json::object().with("components", Json::from(rendered)).render());
    } else {
        print!("{}", table(&rows));
    }
    if rows.iter().all(|row| row.up) { 0 } else { EXIT_FAULT }
}

async fn sequencer_row(config: &config::Config, bound: Duration) -> Row {
    let address = config.sequencer.addr;
    let mut row = Row { component: "sequencer".into(), address: address.to_string(), ..Row::default() };
    match probe_sequencer(address, bound).await {
        Ok((epoch, high_seq)) => {
            row.up = true;
            row.delivered = Some(high_seq);
            row.phase = "ordering".into();
            row.detail = format!("epoch {epoch}");
        }
        Err(error) => row.detail = error,
    }
    row
}

/// Sends stale-epoch `Report`s (every 100 ms) until a `Sync` comes back or `bound` passes: `(epoch, high_seq)`.
async fn probe_sequencer(address: SocketAddr, bound: Duration) -> Result<(u64, u64), String> {
    let local: SocketAddr = if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal");
    let endpoint = udp::Endpoint::bind(local, udp::LinkFaults::default()).await.map_err(|e| e.to_string())?;
    let probe = ordering::Message {
        epoch: 0,
        from: ordering::NodeId(OPERATOR_NODE_ID),
        body: ordering::Body::Report { delivered_up_to: 0 },
    };
    let mut bytes = Vec::new();
    probe.encode(&mut bytes);
    let deadline = tokio::time::Instant::now() + bound;
    while tokio::time::Instant::now() < deadline {
        endpoint.send_to(&bytes, address).await.map_err(|e| e.to_string())?;
        let resend_at = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Ok(received) = tokio::time::timeout_at(resend_at, endpoint.recv_from()).await {
            let (reply, from) = received.map_err(|e| e.to_string())?;
            if from != address {
                continue;
            }
            if let Ok(ordering::Message { epoch, body: ordering::Body::Sync { high_seq, .. }, .. }) =
                ordering::Message::decode(&reply)
            {
                return Ok((epoch, high_seq));
            }
        }
    }
    Err(format!("no answer within {} ms", bound.as_millis()))
}

async fn rm_row(id: u16, address: SocketAddr, bound: Duration) -> Row {
    let mut row = Row { component: format!("rm{id}"), address: address.to_string(), ..Row::default() };
    match rm::status::query_status(address, bound).await {
        Ok(status) => {
            row.up = true;
            row.delivered = Some(status.delivered_up_to);
            row.executed = Some(status.executed_up_to);
            row.consecutive_wrong = Some(u64::from(status.reported_wrong));
            row.replacements = Some(status.replacements);
            if let Some(state) = status.replica_state {
                row.replica_seq = Some(state.executed_up_to);
                row.digest = Some(state.digest_hex(32));
            }
            row.phase = phase_name(status.phase);
            row.detail = format!(
                "incarnation {}, {}, replica {}",
                status.incarnation,
                if status.in_vote { "in vote" } else { "out of vote" },
                if status.replica_up { "up" } else { "down" }
            );
        }
        Err(error) => row.detail = error.to_string(),
    }
    row
}

pub(crate) fn phase_name(phase: manager::ReplicaPhase) -> String {
    match phase {
        manager::ReplicaPhase::Serving => "serving".into(),
        manager::ReplicaPhase::Starting => "starting".into(),
        manager::ReplicaPhase::Fetching { seq } => format!("fetching@{seq}"),
        manager::ReplicaPhase::Restoring { seq } => format!("restoring@{seq}"),
        manager::ReplicaPhase::CatchingUp => "catching-up".into(),
    }
}

fn frontend_row(config: &config::Config, bound: Duration) -> Row {
    let mut address = config.frontend.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut row = Row { component: "frontend".into(), address: format!("http://{address}"), ..Row::default() };
    match http_get_status(address, bound) {
        Ok(body) => {
            row.up = true;
            row.delivered = json_number(&body, "last_seq");
            row.phase = json_string(&body, "mode").unwrap_or_else(|| "up".into());
            let mut details = Vec::new();
            if let Some(vote) = json_string(&body, "vote") {
                details.push(format!("vote {vote}"));
            }
            for key in ["requests", "decided", "unavailable"] {
                if let Some(value) = json_number(&body, key) {
                    details.push(format!("{key} {value}"));
                }
            }
            // Per replica, as the front end sees it: id:incarnation:in-vote:consecutive-wrong.
            let replicas: Vec<String> = json_objects(&body, "replicas")
                .iter()
                .map(|replica| {
                    format!(
                        "r{}:inc{}{}:wrong{}",
                        json_number(replica, "id").unwrap_or(0),
                        json_number(replica, "incarnation").unwrap_or(0),
                        if replica.contains("\"in_vote\":false") { ":out" } else { "" },
                        json_number(replica, "consecutive_wrong").unwrap_or(0)
                    )
                })
                .collect();
            if !replicas.is_empty() {
                details.push(replicas.join(" "));
            }
            row.detail = details.join(", ");
        }
        Err(error) => row.detail = error,
    }
    row
}

/// `GET /status` over a plain connection; the body on 200.
pub(crate) fn http_get_status(address: SocketAddr, bound: Duration) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&address, bound).map_err(|e| format!("cannot connect: {e}"))?;
    stream.set_read_timeout(Some(bound)).map_err(|e| e.to_string())?;
    let request = format!("GET /status HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("no answer: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("malformed HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("answered {}", head.lines().next().unwrap_or("")));
    }
    Ok(body.to_string())
}

/// The number after `"key":` in the front end's flat status JSON (written by `frontend`, never by a stranger).
pub(crate) fn json_number(text: &str, key: &str) -> Option<u64> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn json_string(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    Some(text[start..].split('"').next()?.to_string())
}

/// The objects of the array `"key":[{...},{...}]` (flat objects only).
pub(crate) fn json_objects(text: &str, key: &str) -> Vec<String> {
    let Some(start) = text.find(&format!("\"{key}\":[")) else { return Vec::new() };
    let rest = &text[start + key.len() + 4..];
    let Some(end) = rest.find(']') else { return Vec::new() };
    rest[..end].split("},{").map(|object| object.trim_matches(|c| c == '{' || c == '}').to_string()).collect()
}

fn dash(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<10} {:<5} {:>9} {:>9} {:>6} {:>8} {:>17} {:<14} {}\n",
        "COMPONENT", "STATE", "DELIVERED", "EXECUTED", "WRONG", "REPLACED", "DIGEST@SEQ", "PHASE", "DETAIL"
    );
    for row in rows {
        // The first 4 bytes of the digest identify a state at a glance; `--json` carries all 32.
        let digest = match (&row.digest, row.replica_seq) {
            (Some(digest), Some(seq)) => format!("{}@{seq}", &digest[..digest.len().min(8)]),
            _ => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<10} {:<5} {:>9} {:>9} {:>6} {:>8} {:>17} {:<14} {}\n",
            row.component,
            if row.up { "up" } else { "DOWN" },
            dash(row.delivered),
            dash(row.executed),
            dash(row.consecutive_wrong),
            dash(row.replacements),
            digest,
            if row.phase.is_empty() { "-" } else { &row.phase },
            if row.detail.is_empty() { row.address.clone() } else { format!("{} ({})", row.address, row.detail) }
        ));
    }
    out
}

fn row_json(row: &Row) -> Json {
    let optional = |value: Option<u64>| value.map_or(Json::Null, Json::from);
    Json::object()
        .with("component", row.component.as_str())
        .with("address", row.address.as_str())
        .with("up", row.up)
        .with("delivered", optional(row.delivered))
        .with("executed", optional(row.executed))
        .with("consecutive_wrong", optional(row.consecutive_wrong))
        .with("replacements", optional(row.replacements))
        .with("replica_seq", optional(row.replica_seq))
        .with("digest", row.digest.as_deref().map_or(Json::Null, Json::from))
        .with("phase", row.phase.as_str())
        .with("detail", row.detail.as_str())
}

/// Parses `lie`, `none`, `lie-next N`, `crash-after N`, `slow MS`.
pub fn parse_fault(kind: &str, value: Option<u64>) -> Result<replica_api::Fault, String> {
    use replica_api::Fault;
    match (kind, value) {
        ("none", None) => Ok(Fault::None),
        ("lie", None) => Ok(Fault::Lie),
        ("crash-after", Some(requests)) => Ok(Fault::CrashAfter { requests }),
        ("slow", Some(delay_ms)) => Ok(Fault::Slow { delay_ms }),
        ("lie-next", Some(jobs)) => Ok(Fault::LieNext { jobs }),
        ("crash-after" | "slow" | "lie-next", None) => Err(format!("{kind} needs a number: {kind} N")),
        ("none" | "lie", Some(_)) => Err(format!("{kind} takes no number")),
        _ => Err(format!("{kind:?} is not a fault: use lie, lie-next N, crash-after N, slow MS or none")),
    }
}

pub fn fault(args: &FaultArgs, json: bool) -> u8 {
    let fault = match parse_fault(&args.kind, args.value) {
        Ok(fault) => fault,
        Err(message) => {
            eprintln!("cineflix: error: {message}");
            return EXIT_USAGE;
        }
    };
    let config = match config::Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cineflix: error: {error}");
            return EXIT_USAGE;
        }
    };
    let Some(replica) = config.replicas.iter().find(|replica| replica.id == args.replica) else {
        eprintln!("cineflix: error: the configuration has no replica {}", args.replica);
        return EXIT_USAGE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cineflix: error: cannot start the runtime: {error}");
            return EXIT_FAULT;
        }
    };
    let bound = Duration::from_millis(args.wait_ms);
    match runtime.block_on(rm::status::inject_fault(replica.manager, fault, bound)) {
        Ok(incarnation) => {
            if json {
                let answer = Json::object()
                    .with("replica", u32::from(args.replica))
                    .with("incarnation", incarnation)
                    .with("fault", format!("{fault:?}"))
                    .with("acknowledged", true);
                println!("{}", answer.render());
            } else {
                println!("replica {} (incarnation {incarnation}): fault {fault:?} set", args.replica);
            }
            0
        }
        Err(error) => {
            eprintln!("cineflix: error: replica {}: {error}", args.replica);
            EXIT_FAULT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        use replica_api::Fault;
        assert_eq!(parse_fault("lie", None), Ok(Fault::Lie));
        assert_eq!(parse_fault("none", None), Ok(Fault::None));
        assert_eq!(parse_fault("crash-after", Some(5)), Ok(Fault::CrashAfter { requests: 5 }));
        assert_eq!(parse_fault("slow", Some(200)), Ok(Fault::Slow { delay_ms: 200 }));
        assert_eq!(parse_fault("lie-next", Some(3)), Ok(Fault::LieNext { jobs: 3 }));
        assert!(parse_fault("lie-next", None).is_err());
        assert!(parse_fault("slow", None).is_err());
        assert!(parse_fault("lie", Some(1)).is_err());
        assert!(parse_fault("explode", None).is_err());
    }

    #[test]
    fn frontend_status_fields_are_read() {
        let body = "{\"component\":\"frontend\",\"mode\":\"replicated\",\"vote\":\"software\",\"requests\":12,\
                    \"last_seq\":40,\"replicas\":[{\"id\":1,\"incarnation\":2,\"in_vote\":false,\
                    \"consecutive_wrong\":0},{\"id\":2,\"incarnation\":1,\"in_vote\":true,\"consecutive_wrong\":2}]}";
        assert_eq!(json_number(body, "last_seq"), Some(40));
        assert_eq!(json_number(body, "requests"), Some(12));
        assert_eq!(json_string(body, "mode").as_deref(), Some("replicated"));
        let replicas = json_objects(body, "replicas");
        assert_eq!(replicas.len(), 2);
        assert_eq!(json_number(&replicas[1], "consecutive_wrong"), Some(2));
        assert_eq!(json_number(&replicas[0], "incarnation"), Some(2));
    }

    #[test]
    fn table_marks_unreachable_components() {
        let rows = [
            Row { component: "rm1".into(), up: true, delivered: Some(7), phase: "serving".into(), ..Row::default() },
            Row { component: "rm2".into(), address: "127.0.0.1:1".into(), ..Row::default() },
        ];
        let text = table(&rows);
        assert!(text.lines().nth(1).unwrap().starts_with("rm1        up"), "{text}");
        assert!(text.lines().nth(2).unwrap().starts_with("rm2        DOWN"), "{text}");
    }

    #[test]
    fn rm_rows_show_the_replica_digest_short_in_the_table_and_full_in_json() {
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string();
        let rows = [
            Row {
                component: "rm1".into(),
                up: true,
                replica_seq: Some(1234),
                digest: Some(digest.clone()),
                phase: "serving".into(),
                ..Row::default()
            },
            Row { component: "rm2".into(), up: true, phase: "starting".into(), ..Row::default() },
        ];
        let text = table(&rows);
        assert!(text.lines().next().unwrap().contains("DIGEST@SEQ"), "{text}");
        assert!(text.lines().nth(1).unwrap().contains(" 9f86d081@1234 "), "{text}");
        assert!(!text.contains(&digest[..9]), "the table shows 8 hex digits only: {text}");
        let json = row_json(&rows[0]).render();
        assert!(json.contains(&format!("\"digest\":\"{digest}\"")), "{json}");
        assert!(json.contains("\"replica_seq\":1234"), "{json}");
        assert!(row_json(&rows[1]).render().contains("\"digest\":null"));
    }
}
