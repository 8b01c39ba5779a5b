//! Real-process system test of the ordering protocol over loopback UDP with fault injection on every link: one
//! sequencer, three members and three submitters, each a `cineflix-order-node` OS process, with 5% loss, 5%
//! duplication and 5% reordering on every datagram any of them sends. Every submission must reach all three
//! members in the same order, none lost, none doubled.
//!
//! The submission count is `ORDER_PROCESS_TEST_SUBMISSIONS` (default 100,000 in total). Waits are for process
//! exits, bounded by `ORDER_PROCESS_TEST_TIMEOUT_S` (default 110 s) only to fail instead of hanging.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NODE: &str = env!("CARGO_BIN_EXE_cineflix-order-node");

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// One started process: its role name, and the handles the test keeps.
struct Node {
    name: String,
    id: u16,
    /// `None` once moved to the thread that waits for the process to exit.
    child: Option<Child>,
    /// Closing it tells the node to stop.
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    addr: String,
}

fn start(name: &str, id: u16, args: &[String]) -> Node {
    let mut child = Command::new(NODE)
        .args(["--id".to_string(), id.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cineflix-order-node");
    let stdin = child.stdin.take();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read ADDR line");
    let addr = line.trim().strip_prefix("ADDR ").unwrap_or_else(|| panic!("{name}: expected ADDR, got {line:?}"));
    Node { name: name.to_string(), id, child: Some(child), stdin, stdout: Some(stdout), addr: addr.to_string() }
}

/// Stops every process when the test ends, whether it passed or panicked: closing stdin stops a node (the threads
/// waiting for moved children then reap them); a child still owned here is also killed and reaped.
struct Cluster(Vec<Node>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.0 {
            drop(node.stdin.take());
        }
        for node in &mut self.0 {
            if let Some(child) = node.child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn read_log(path: &Path) -> Vec<(u64, u16, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut fields = line.split(' ').map(|field| field.parse::<u64>().expect("numeric log field"));
            let (seq, submitter, request_id) = (fields.next().unwrap(), fields.next().unwrap(), fields.next().unwrap());
            (seq, submitter as u16, request_id)
        })
        .collect()
}

#[test]
fn faulty_links_still_deliver_every_submission_once_in_one_order_to_every_member() {
    let total: u64 = env_or("ORDER_PROCESS_TEST_SUBMISSIONS", 100_000);
    let timeout = Duration::from_secs(env_or("ORDER_PROCESS_TEST_TIMEOUT_S", 110));
    let submitter_ids = [11u16, 12, 13];
    let member_ids = [1u16, 2, 3];
    // Split the total over the submitters; the first ones take the remainder.
    let share = |index: usize| {
        let count = submitter_ids.len() as u64;
        total / count + u64::from((index as u64) < total % count)
    };
    let per_submitter: HashMap<u16, u64> =
        submitter_ids.iter().enumerate().map(|(index, &id)| (id, share(index))).collect();
    let log_dir = std::env::temp_dir().join(format!("cineflix-order-processes-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).unwrap();

    let faults = |seed: u16| {
        ["--drop", "0.05", "--duplicate", "0.05", "--reorder", "0.05", "--seed", &seed.to_string()]
            .map(str::to_string)
            .to_vec()
    };
    let strings = |items: &[&str]| items.iter().map(|item| item.to_string()).collect::<Vec<_>>();
    let mut cluster = Cluster(Vec::new());
    let mut args = strings(&["--role", "sequencer", "--members", "1,2,3"]);
    args.extend(faults(1000));
    cluster.0.push(start("sequencer", 0, &args));
    let mut logs: Vec<PathBuf> = Vec::new();
    for (index, id) in member_ids.iter().enumerate() {
        let log = log_dir.join(format!("member-{id}.log"));
        let mut args = strings(&["--role", "member", "--sequencer", "0", "--member-count", "3"]);
        args.extend(["--index".into(), index.to_string(), "--expect".into(), total.to_string()]);
        args.extend(["--log".into(), log.display().to_string()]);
        args.extend(faults(1000 + id));
        cluster.0.push(start(&format!("member {id}"), *id, &args));
        logs.push(log);
    }
    for id in submitter_ids {
        let mut args = strings(&["--role", "submitter", "--sequencer", "0"]);
        args.extend(["--count".into(), per_submitter[&id].to_string()]);
        args.extend(faults(1000 + id));
        cluster.0.push(start(&format!("submitter {id}"), id, &args));
    }

    let peers = cluster.0.iter().map(|node| format!("{}={}", node.id, node.addr)).collect::<Vec<_>>().join(",");
    for node in &mut cluster.0 {
        writeln!(node.stdin.as_mut().unwrap(), "PEERS {peers}").unwrap();
        node.stdin.as_mut().unwrap().flush().unwrap();
    }

    // Members and submitters exit by themselves when done; each is waited for on its own thread so the bound
    // applies to all of them together. Their stdout (the DONE line) is read to the end by the same thread.
    let (exited_tx, exited_rx) = mpsc::channel::<(String, std::io::Result<ExitStatus>)>();
    let mut waiting = 0;
    for node in cluster.0.iter_mut().filter(|node| node.name != "sequencer") {
        let exited_tx = exited_tx.clone();
        let mut stdout = node.stdout.take().expect("stdout not yet taken");
        let mut child = node.child.take().expect("child not yet taken");
        let name = node.name.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            let _ = exited_tx.send((name, child.wait()));
        });
        waiting += 1;
    }
    let started = Instant::now();
    for _ in 0..waiting {
        let left = timeout.saturating_sub(started.elapsed());
        match exited_rx.recv_timeout(left) {
            Ok((name, status)) => assert!(status.unwrap().success(), "{name} failed"),
            Err(_) => {
                let progress: Vec<usize> = logs.iter().map(|log| read_log(log).len()).collect();
                panic!("not done within {timeout:?}: member log lengths {progress:?} of {total}");
            }
        }
    }
    let elapsed = started.elapsed();
    let sequencer = &mut cluster.0[0];
    drop(sequencer.stdin.take()); // end of file on stdin: the sequencer prints its status and exits
    let mut sequencer_child = sequencer.child.take().expect("sequencer child kept");
    assert!(sequencer_child.wait().unwrap().success(), "sequencer failed");

    let reference = read_log(&logs[0]);
    assert_eq!(reference.len() as u64, total);
    for (index, &(seq, _, _)) in reference.iter().enumerate() {
        assert_eq!(seq, index as u64 + 1, "seqs are gap-free from 1");
    }
    let distinct: HashSet<(u16, u64)> = reference.iter().map(|&(_, submitter, request)| (submitter, request)).collect();
    assert_eq!(distinct.len() as u64, total, "no submission doubled");
    let mut per_submitter_seen: HashMap<u16, u64> = HashMap::new();
    for &(submitter, request_id) in &distinct {
        let submitted = per_submitter.get(&submitter).copied().unwrap_or(0);
        assert!((1..=submitted).contains(&request_id), "({submitter}, {request_id}) was never submitted");
        *per_submitter_seen.entry(submitter).or_default() += 1;
    }
    assert_eq!(per_submitter_seen, per_submitter, "none lost");
    for log in &logs[1..] {
        assert!(read_log(log) == reference, "{} differs from {}", log.display(), logs[0].display());
    }
    eprintln!("{total} submissions ordered at 3 members through 5% loss/duplication/reordering in {elapsed:?}");
    let _ = std::fs::remove_dir_all(&log_dir);
}
