//! The failure cases of replication.md, run through the control plane: a replica crashing under load, a lying
//! replica, the three-consecutive-wrong rule and its reset (with the `lie-next N` fault), a crash and a lie at once
//! with four replicas, and 1% datagram loss, duplication and reordering on every link.
//!
//! Each case waits for conditions (every replica in the vote, a replacement counted, the front end's count of
//! consecutive wrong results, a number of answered requests) within bounds; none sleeps for a fixed time. A crash
//! is a SIGKILL of the replica process when the grader started the deployment itself, else an injected
//! `crash-after 0` through the replica's manager (works on any host). The failure cases assume nobody else sends
//! requests meanwhile: a stranger's request would consume a `lie-next` lie.

use super::load::{Load, LoadReport, Worker};
use super::target::schedule_op;
use super::{Case, CaseResult, Group, Needs, Stop, Target, fail};
use booking::{Body, ResultCode, ScheduleEntry, TheatreCode};
use replica_api::Fault;
use std::time::{Duration, Instant};

/// Load workers (one connection each) during failure cases.
const WORKERS: usize = 4;
/// Requests answered before a fault is injected, and again after the replica is back.
const REQUESTS_AROUND_FAULT: u64 = 60;
/// Bound of one request of the load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound for the cluster to be whole again (every replica in the vote).
const HEAL_BOUND: Duration = Duration::from_secs(30);
/// Bound for a replacement to finish.
const REPLACE_BOUND: Duration = Duration::from_secs(30);
/// Bound for the replicas to reach one seq after the load stopped.
const DIGEST_BOUND: Duration = Duration::from_secs(20);
/// Bound for the front end's status to reflect a result.
const COUNT_BOUND: Duration = Duration::from_secs(5);
/// Requests of the lossy load.
const LOSSY_REQUESTS: u64 = 400;

fn case(
    id: &'static str,
    scenario: &'static str,
    expected: &'static str,
    needs: Needs,
    run: fn(&mut Target) -> CaseResult,
) -> Case {
    Case { id, group: Group::Failure, scenario, expected, codes: &[ResultCode::Ok], needs, run }
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "R01",
            "a replica crashes under load",
            "0 failed and 0 wrong client requests; replica replaced and in the vote; digests equal",
            Needs::ControlPlane,
            crash_under_load,
        ),
        case(
            "R02",
            "a replica lies on every answer under load",
            "no client gets a wrong answer; the liar is replaced; digests equal",
            Needs::ControlPlane,
            lying_replica,
        ),
        case(
            "R03",
            "three consecutive wrong results, and a right one resets the count",
            "W,R,W,W: counts 1,0,1,2, not replaced; one more W: count 3, replaced",
            Needs::ControlPlane,
            three_consecutive,
        ),
        case(
            "R04",
            "n = 4: one replica crashes and another lies at once",
            "0 failed and 0 wrong client requests; both replaced; digests equal",
            Needs::FourReplicas,
            crash_and_lie,
        ),
        case(
            "R05",
            "1% datagram loss, duplication and reordering on every link",
            "0 failed, 0 wrong; every acknowledged booking present exactly once; seats conserved; digests equal",
            Needs::LossyLinks,
            lossy_links,
        ),
    ]
}

fn software_vote(t: &Target) -> Result<(), Stop> {
    match &t.config {
        Some(config) if config.frontend.vote == config::VoteMode::Crash => Err(Stop::Skip(
            "the deployment votes in crash mode (first answer wins): a lying replica is outside its fault model".into(),
        )),
        _ => Ok(()),
    }
}

/// One fresh customer and private slot per worker, spread over the theatres.
fn workers(t: &mut Target, count: usize) -> Result<Vec<Worker>, Stop> {
    (0..count)
        .map(|index| {
            let theatre = TheatreCode::ALL[index % 3];
            let customer = t.customer(theatre)?;
            let slot = t.any_slot(theatre, 5)?;
            Ok(Worker { customer, slot })
        })
        .collect()
}

fn start_load(t: &mut Target) -> Result<(Load, Vec<Worker>), Stop> {
    let workers = workers(t, WORKERS)?;
    let load = Load::start(t.endpoint.clone(), t.version, workers.clone(), LOAD_TIMEOUT);
    if !load.wait_answered(REQUESTS_AROUND_FAULT, Duration::from_secs(20)) {
        let report = load.stop();
        return fail(format!(
            "the load did not get {REQUESTS_AROUND_FAULT} answers before the fault: {}",
            show(&report)
        ));
    }
    Ok((load, workers))
}

/// Lets the load run on for `REQUESTS_AROUND_FAULT` more answers, stops it, and requires 0 failed and 0 wrong.
fn finish_load(load: Load) -> Result<LoadReport, Stop> {
    let target = load.answered() + REQUESTS_AROUND_FAULT;
    let kept_going = load.wait_answered(target, Duration::from_secs(30));
    let report = load.stop();
    if !kept_going {
        return fail(format!("clients were not served after the fault: {}", show(&report)));
    }
    if report.failed > 0 || report.wrong > 0 {
        return fail(show(&report));
    }
    Ok(report)
}

fn show(report: &LoadReport) -> String {
    let mut text = format!("{} requests, {} failed, {} wrong", report.requests, report.failed, report.wrong);
    if !report.problems.is_empty() {
        text.push_str(&format!(" (first: {})", report.problems.join(" | ")));
    }
    text
}

/// Crashes replica `replica`: SIGKILL when the grader started the deployment, else `crash-after 0` via its RM.
fn crash(t: &Target, replica: &config::ReplicaConfig) -> Result<String, Stop> {
    if let Some(cluster) = t.cluster() {
        let pid = cluster
            .replica_pid(replica.id)
            .ok_or_else(|| Stop::Fail(format!("replica {} has no process", replica.id)))?;
        cluster::send_signal(pid, cluster::Signal::KILL).map_err(Stop::Fail)?;
        Ok(format!("kill -9 of replica {} (pid {pid})", replica.id))
    } else {
        t.inject(replica, Fault::CrashAfter { requests: 0 })?;
        Ok(format!("crash-after 0 injected into replica {}", replica.id))
    }
}

fn crash_under_load(t: &mut Target) -> CaseResult {
    let before = t.wait_all_in_vote(HEAL_BOUND)?;
    let replicas = t.replicas();
    let victim = &replicas[0];
    let (load, _workers) = start_load(t)?;
    let crashed_at = Instant::now();
    let how = match crash(t, victim) {
        Ok(how) => how,
        Err(stop) => {
            load.stop();
            return Err(stop);
        }
    };
    let replaced = t.wait_replaced(victim, &before[0], REPLACE_BOUND);
    let back_ms = crashed_at.elapsed().as_millis();
    let report = finish_load(load)?;
    replaced?;
    let digests = t.digests_agree(DIGEST_BOUND)?;
    Ok(format!("{how}: {}; in the vote again after {back_ms} ms; {digests}", show(&report)))
}

fn lying_replica(t: &mut Target) -> CaseResult {
    software_vote(t)?;
    let before = t.wait_all_in_vote(HEAL_BOUND)?;
    let replicas = t.replicas();
    let index = replicas.len() - 1;
    let liar = &replicas[index];
    let (load, _workers) = start_load(t)?;
    if let Err(stop) = t.inject(liar, Fault::Lie) {
        load.stop();
        return Err(stop);
    }
    let replaced = t.wait_replaced(liar, &before[index], REPLACE_BOUND);
    let report = finish_load(load)?;
    let after = replaced?;
    let digests = t.digests_agree(DIGEST_BOUND)?;
    Ok(format!(
        "replica {} lied: {}; replaced (replacements {} -> {}); {digests}",
        liar.id,
        show(&report),
        before[index].replacements,
        after.replacements
    ))
}

fn three_consecutive(t: &mut Target) -> CaseResult {
    software_vote(t)?;
    let before = t.wait_all_in_vote(HEAL_BOUND)?;
    let replicas = t.replicas();
    let index = 1.min(replicas.len() - 1);
    let liar = &replicas[index];
    let customer = t.customer(TheatreCode::Out)?;
    let slot = t.any_slot(TheatreCode::Out, 5)?;
    t.expect(&customer, super::target::book_op(&customer, slot, 2), ResultCode::Ok)?;
    let truth = Body::Schedule(vec![ScheduleEntry { movie_id: slot.movie_id, movie: slot.movie, tickets: 2 }]);
    // The count must start at 0: the booking above was answered right by everyone.
    wait_count(t, liar.id, 0)?;
    let mut counts = Vec::new();
    // (lies injected before the request, the front end's count expected after it)
    let steps: [(u64, u64); 4] = [(1, 1), (0, 0), (2, 1), (0, 2)];
    for (step, (lies, expected)) in steps.into_iter().enumerate() {
        if lies > 0 {
            t.inject(liar, Fault::LieNext { jobs: lies })?;
        }
        let answer = t.expect(&customer, schedule_op(&customer), ResultCode::Ok)?;
        if answer.body != truth {
            return fail(format!("step {}: a client got a wrong schedule {:?}", step + 1, answer.body));
        }
        counts.push(wait_count(t, liar.id, expected)?);
    }
    let now = t.rm_status(liar.manager).map_err(Stop::Fail)?;
    if now.replacements != before[index].replacements || now.incarnation != before[index].incarnation {
        return fail(format!(
            "replaced after W,R,W,W (counts {counts:?}): replacements {} -> {}",
            before[index].replacements, now.replacements
        ));
    }
    t.inject(liar, Fault::LieNext { jobs: 1 })?;
    let answer = t.expect(&customer, schedule_op(&customer), ResultCode::Ok)?;
    if answer.body != truth {
        return fail(format!("a client got a wrong schedule {:?}", answer.body));
    }
    let after = t.wait_replaced(liar, &now, REPLACE_BOUND)?;
    let digests = t.digests_agree(DIGEST_BOUND)?;
    Ok(format!(
        "replica {}: counts {counts:?} after W,R,W,W, not replaced; third W in a row: replaced ({} -> {}); {digests}",
        liar.id, now.replacements, after.replacements
    ))
}

/// Waits until the front end counts `expected` consecutive wrong results for `replica_id`.
fn wait_count(t: &Target, replica_id: u16, expected: u64) -> Result<u64, Stop> {
    let deadline = Instant::now() + COUNT_BOUND;
    loop {
        let count = t.frontend_wrong_count(replica_id).map_err(Stop::Fail)?;
        if count == expected {
            return Ok(count);
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "the front end counts {count} consecutive wrong for replica {replica_id}, expected {expected}"
            ));
        }
        std::thread::sleep(super::target::POLL_INTERVAL);
    }
}

fn crash_and_lie(t: &mut Target) -> CaseResult {
    software_vote(t)?;
    let before = t.wait_all_in_vote(HEAL_BOUND)?;
    let replicas = t.replicas();
    let (crashed, liar) = (&replicas[replicas.len() - 2], &replicas[replicas.len() - 1]);
    let (before_crashed, before_liar) = (&before[replicas.len() - 2], &before[replicas.len() - 1]);
    let (load, _workers) = start_load(t)?;
    let injected = t.inject(liar, Fault::Lie).and_then(|_| crash(t, crashed));
    let how = match injected {
        Ok(how) => how,
        Err(stop) => {
            load.stop();
            return Err(stop);
        }
    };
    let liar_replaced = t.wait_replaced(liar, before_liar, REPLACE_BOUND);
    let crashed_replaced = t.wait_replaced(crashed, before_crashed, REPLACE_BOUND);
    let report = finish_load(load)?;
    liar_replaced?;
    crashed_replaced?;
    let digests = t.digests_agree(DIGEST_BOUND)?;
    Ok(format!("replica {} lied while {how}: {}; both replaced; {digests}", liar.id, show(&report)))
}

fn lossy_links(t: &mut Target) -> CaseResult {
    t.wait_all_in_vote(HEAL_BOUND)?;
    let workers = workers(t, WORKERS)?;
    let load = Load::start(t.endpoint.clone(), t.version, workers.clone(), LOAD_TIMEOUT);
    let done = load.wait_answered(LOSSY_REQUESTS, Duration::from_secs(60));
    let report = load.stop();
    if !done || report.failed > 0 || report.wrong > 0 {
        return fail(show(&report));
    }
    // Every cycle checked the booking right after it was acknowledged (exactly one ticket); now every seat must
    // be back and every booking gone or single.
    for worker in &workers {
        let held = t.tickets(&worker.customer, worker.slot)?;
        let listed = t.show(worker.slot)?;
        if held > 1 || listed != Some((5, 5 - held)) {
            return fail(format!("{} holds {held} in {}, listed {listed:?}", worker.customer, worker.slot));
        }
    }
    let digests = t.digests_agree(DIGEST_BOUND)?;
    Ok(format!("{}; seats conserved in {} slots; {digests}", show(&report), workers.len()))
}
