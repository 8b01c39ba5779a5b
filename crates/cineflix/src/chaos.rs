//! `cineflix chaos`: for a bounded time, a private cluster under a steady tracked booking load takes a seeded
//! schedule of faults (SIGKILLed replicas, lying replicas, replicas that crash after N requests, lies healed in time,
//! replica managers stopped with SIGSTOP for a few seconds) on top of datagram loss, duplication and reordering on
//! every UDP link; then the history is checked: every acknowledged request applied exactly once, seats conserved,
//! every replica at the same seq with the same digest.
//!
//! Never more faults at once than the deployment tolerates: with n = 3 one faulty replica at a time (a stopped
//! manager counts as its replica being faulty); with n = 4 a crash and a liar may coincide. The next event waits
//! until every replica is back in the vote (a bounded wait for an observed condition); the gaps between events are
//! the schedule's own, drawn from the seed, so one seed gives one schedule. Deliberately not a benchmark: the workload favours a checkable history over throughput.

use crate::bench::Rng;
use crate::cli::ChaosArgs;
use crate::outcome::{EXIT_FAULT, EXIT_SUCCESS, EXIT_USAGE};
use crate::workload::deployment::{LogTail, Observer, PausedManager, Running, live_members};
use crate::workload::history;
use crate::workload::{self, Plan, Workload};
use replica_api::Fault;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client tasks and customers per task of the chaos workload.
const TASKS: usize = 8;
const CUSTOMERS_PER_TASK: usize = 3;
/// Per-request bound: above the front end's own timeout, so its answer (or fault) arrives first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// A faulty replica must be back in the vote within this long, or the run fails (liveness).
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
/// How long a victim whose injection was not confirmed may take to be replaced (crash agreement takes well under
/// a second on loopback).
const UNCONFIRMED_BOUND: Duration = Duration::from_secs(10);
const CONVERGE_BOUND: Duration = Duration::from_secs(60);
/// A paused manager is resumed by a watchdog this long after its pause should have ended, should this run die first.
const WATCHDOG_MARGIN: Duration = Duration::from_secs(10);
/// A SIGSTOPped process is reported stopped by the kernel at once; this bounds the check.
const QUERY_STOP_BOUND: Duration = Duration::from_secs(5);
/// Gaps between events, drawn uniformly (milliseconds).
const GAP_MIN_MS: u64 = 1_000;
const GAP_MAX_MS: u64 = 6_000;
/// `crash-after N`: N drawn from this range (requests).
const CRASH_AFTER_MIN: u64 = 1;
const CRASH_AFTER_MAX: u64 = 60;
/// `pause`: how long the replica manager stays stopped, drawn from this range (milliseconds). The sequencer drops a
/// member silent for `member_timeout_ms` (1 s) once its history (4096) is half full: the chaos load over lossy links
/// orders about 900 requests a second on an idle 2-core machine, so that takes some 3.3 s, and these pauses are
/// mostly dropped and come back by state transfer; a pause the history absorbs (a slower load) ends with the manager
/// simply catching up.
const PAUSE_MIN_MS: u64 = 4_000;
const PAUSE_MAX_MS: u64 = 8_000;

/// One fault event of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// SIGKILL the replica's process.
    Kill { replica: u16 },
    /// The replica answers wrongly until it is replaced.
    Lie { replica: u16 },
    /// The replica exits after executing this many more requests.
    CrashAfter { replica: u16, requests: u64 },
    /// The replica lies and is healed at once: it is replaced only if three wrong answers got out first.
    LieThenHeal { replica: u16 },
    /// The replica's manager is stopped (SIGSTOP) for this long, then resumed (SIGCONT).
    Pause { replica: u16, pause_ms: u64 },
    /// n = 4 only: one replica killed and another lying at the same moment.
    KillAndLie { killed: u16, liar: u16 },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Kill { .. } => "kill",
            Event::Lie { .. } => "lie",
            Event::CrashAfter { .. } => "crash-after",
            Event::LieThenHeal { .. } => "lie-then-heal",
            Event::Pause { .. } => "pause",
            Event::KillAndLie { .. } => "kill-and-lie",
        }
    }

    /// The replicas this event makes faulty.
    pub fn victims(&self) -> Vec<u16> {
        match *self {
            Event::Kill { replica }
            | Event::Lie { replica }
            | Event::CrashAfter { replica, .. }
            | Event::LieThenHeal { replica }
            | Event::Pause { replica, .. } => vec![replica],
            Event::KillAndLie { killed, liar } => vec![killed, liar],
        }
    }

    fn describe(&self) -> String {
        match self {
            Event::Kill { replica } => format!("SIGKILL replica {replica}"),
            Event::Lie { replica } => format!("replica {replica} lies"),
            Event::CrashAfter { replica, requests } => format!("replica {replica} crashes after {requests} requests"),
            Event::LieThenHeal { replica } => format!("replica {replica} lies, healed at once"),
            Event::Pause { replica, pause_ms } => {
                format!("replica manager {replica} stopped (SIGSTOP) for {pause_ms} ms")
            }
            Event::KillAndLie { killed, liar } => format!("SIGKILL replica {killed} and replica {liar} lies"),
        }
    }
}

/// The seeded event schedule: the same seed and replicas give the same gaps and events.
#[derive(Clone, Debug)]
pub struct Schedule {
    rng: Rng,
    replicas: Vec<u16>,
}

impl Schedule {
    pub fn new(seed: u64, replicas: Vec<u16>) -> Schedule {
        assert!(replicas.len() >= 3, "chaos needs at least three replicas");
        Schedule { rng: Rng::new(seed), replicas }
    }

    /// The gap before the next event, and the event.
    pub fn next_event(&mut self) -> (Duration, Event) {
        let gap_ms = GAP_MIN_MS + self.rng.below(GAP_MAX_MS - GAP_MIN_MS + 1);
        let replica = self.replicas[self.rng.below(self.replicas.len() as u64) as usize];
        // A crash and a liar at once only where two faulty replicas are tolerated (n >= 4).
        let kinds = if self.replicas.len() >= 4 { 6 } else { 5 };
        let event = match self.rng.below(kinds) {
            0 => Event::Kill { replica },
            1 => Event::Lie { replica },
            2 => Event::CrashAfter {
                replica,
                requests: CRASH_AFTER_MIN + self.rng.below(CRASH_AFTER_MAX - CRASH_AFTER_MIN + 1),
            },
            3 => Event::LieThenHeal { replica },
            4 => Event::Pause { replica, pause_ms: PAUSE_MIN_MS + self.rng.below(PAUSE_MAX_MS - PAUSE_MIN_MS + 1) },
            _ => {
                let others: Vec<u16> = self.replicas.iter().copied().filter(|&id| id != replica).collect();
                let liar = others[self.rng.below(others.len() as u64) as usize];
                Event::KillAndLie { killed: replica, liar }
            }
        };
        (Duration::from_millis(gap_ms), event)
    }
}

/// What one event did.
#[derive(Clone, Debug)]
struct Outcome {
    kind: &'static str,
    /// Replacements it caused (a healed lie may cause none).
    replaced: u64,
    recovery: Duration,
}

pub fn run(args: &ChaosArgs) -> u8 {
    if !(0.0..=0.5).contains(&args.loss) {
        eprintln!("cineflix chaos: --loss must lie in 0..=0.5");
        return EXIT_USAGE;
    }
    let template = args.config_dir.join(if args.replicas == 4 { "replicated-n4.toml" } else { "cineflix.toml" });
    let running = match workload::deployment::start(&template, "chaos", |config| {
        config.faults.drop = args.loss;
        config.faults.duplicate = args.loss;
        config.faults.reorder = args.loss;
    }) {
        Ok(running) => running,
        Err(message) => {
            eprintln!("cineflix chaos: cannot start the cluster: {message}");
            return EXIT_FAULT;
        }
    };
    let result = execute(args, &running);
    running.stop(args.keep_logs || !matches!(result, Ok(true)));
    match result {
        Ok(passed) => {
            if passed {
                EXIT_SUCCESS
            } else {
                EXIT_FAULT
            }
        }
        Err(message) => {
            eprintln!("cineflix chaos: {message}");
            EXIT_FAULT
        }
    }
}

fn execute(args: &ChaosArgs, running: &Running) -> Result<bool, String> {
    let config = &running.deployment.config;
    let observer = Observer::new(config)?;
    let replicas = observer.replica_ids();
    if replicas.len() != usize::from(args.replicas) {
        return Err(format!("{} replicas configured, {} asked for", replicas.len(), args.replicas));
    }
    observer.say(&format!(
        "cluster up: {} replicas, front end {}, link drop/duplicate/reorder {:.1}% each, logs in {}",
        replicas.len(),
        running.endpoint.url,
        args.loss * 100.0,
        config.logs.dir.display()
    ));
    let today = booking::time::today(jiff::Timestamp::now().as_millisecond(), &booking::time::montreal()).0;
    let plan = Arc::new(Plan::new(today, TASKS, CUSTOMERS_PER_TASK));
    workload::setup(&running.endpoint, &plan, REQUEST_TIMEOUT)?;
    let load = Workload::start(&running.endpoint, plan.clone(), args.seed, REQUEST_TIMEOUT)?;
    observer.say(&format!(
        "load started: {TASKS} clients, {} customers, {} slots; seed {}, events for {:.0} s",
        plan.customers.len(),
        plan.slots.len(),
        args.seed,
        args.duration.as_secs_f64()
    ));
    let started = Instant::now();
    let end = started + args.duration;
    let mut schedule = Schedule::new(args.seed, replicas.clone());
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let frontend = config.frontend.listen;
    let wrong_limit = u64::from(config.replication.wrong_limit);
    // The last event's number and its victims' incarnations when it was judged over.
    let mut last_victims: Option<(usize, BTreeMap<u16, u64>)> = None;
    loop {
        let (gap, event) = schedule.next_event();
        // An event that would still be holding its fault at the end is not started.
        let held = match event {
            Event::Pause { pause_ms, .. } => Duration::from_millis(pause_ms),
            _ => Duration::ZERO,
        };
        if Instant::now() + gap + held >= end {
            break;
        }
        // The gap is the schedule's, not a wait for a condition.
        std::thread::sleep(gap);
        let number = outcomes.len() + 1;
        // A healed liar may have been reported just after its event was judged over: its replacement then runs
        // now. Never start a fault while one is still being repaired, and charge the replacement to its event.
        let settled = observer.wait_for("every replica in the vote before the next event", RECOVERY_BOUND, || {
            replicas
                .iter()
                .all(|&id| {
                    let Ok(status) = observer.status(id) else { return false };
                    observer.frontend_view(frontend, id).is_some_and(|view| {
                        view.incarnation == status.incarnation && view.in_vote && view.consecutive_wrong == 0
                    }) && status.in_vote
                        && status.phase == manager::ReplicaPhase::Serving
                })
                .then_some(())
        });
        if let Err(message) = settled {
            problems.push(format!("before event {number}: {message}"));
            observer.say(&format!("before event {number}: STUCK: {message}"));
            break;
        }
        if let Some((previous, incarnations)) = &last_victims {
            let late: u64 = incarnations
                .iter()
                .map(|(&id, &incarnation)| observer.status(id).map_or(0, |status| status.incarnation - incarnation))
                .sum();
            if late > 0 {
                observer.say(&format!("event {previous}: {late} replacement(s) started after it was judged over"));
                if let Some(outcome) = outcomes.last_mut() {
                    outcome.replaced += late;
                }
            }
        }
        let before: BTreeMap<u16, u64> = event
            .victims()
            .into_iter()
            .map(|id| observer.status(id).map(|status| (id, status.incarnation)))
            .collect::<Result<_, _>>()?;
        let wrong_before = observer.frontend_view(frontend, event.victims()[0]).map_or(0, |view| view.wrong_total);
        let injected_at = Instant::now();
        // Tailed from before the fault: a stopped manager's drop and return show up as `members live=` lines.
        let mut sequencer_log = LogTail::from_end(running.log_path("sequencer.log"));
        let paused = match inject(&observer, running, &event) {
            Ok(stopped) => stopped,
            Err(message) => {
                // The fault may have been set and acted on before its confirmation came back (a lost reply over lossy
                // UDP, retried after the replica already crashed: "no replica is running"): a victim replaced right
                // after is a fault injected. Its replacement follows the managers' crash agreement, so it is awaited
                // (bounded) rather than looked for once; a replica the fault never reached is not replaced at all.
                let replaced_meanwhile = observer
                    .wait_for("the victim of an unconfirmed injection to be replaced", UNCONFIRMED_BOUND, || {
                        before
                            .iter()
                            .any(|(&id, &incarnation)| {
                                observer.status(id).is_ok_and(|status| status.incarnation > incarnation)
                            })
                            .then_some(())
                    })
                    .is_ok();
                if replaced_meanwhile {
                    observer.say(&format!(
                        "event {number}: no confirmation ({message}), but the victim is already replaced"
                    ));
                } else {
                    problems.push(format!("event {number} ({}): {message}", event.describe()));
                    observer.say(&format!("event {number}: {}: FAILED to inject: {message}", event.describe()));
                    break;
                }
                None
            }
        };
        observer.say(&format!("event {number}: {}", event.describe()));
        // A resumed manager that was never dropped keeps its incarnation: it is back once it has executed what the
        // others had executed when it was resumed (a dropped one cannot get there without a state transfer).
        let mut caught_up_mark = None;
        // Time back in the vote counts from the fault, or for a pause from the resume (its length is the schedule's).
        let mut recovery_from = injected_at;
        if let (Some(stopped), Event::Pause { pause_ms, .. }) = (paused, &event) {
            match hold_and_resume(&observer, stopped, Duration::from_millis(*pause_ms)) {
                Ok(mark) => {
                    observer.say(&format!(
                        "event {number}: replica manager {} resumed (SIGCONT); the others had executed up to seq {mark}",
                        event.victims()[0]
                    ));
                    caught_up_mark = Some(mark);
                    recovery_from = Instant::now();
                }
                Err(message) => {
                    problems.push(format!("event {number} ({}): {message}", event.describe()));
                    observer.say(&format!("event {number}: FAILED: {message}"));
                    break;
                }
            }
        }
        let recovered = observer.wait_for("every replica back in the vote", RECOVERY_BOUND, || {
            let all_back = replicas.iter().all(|&id| {
                let Ok(status) = observer.status(id) else { return false };
                let Some(view) = observer.frontend_view(frontend, id) else { return false };
                let frontend_agrees =
                    view.incarnation == status.incarnation && view.in_vote && view.consecutive_wrong == 0;
                let renewed = match (&event, before.get(&id)) {
                    (_, None) => true,
                    // A healed liar stays only if fewer wrong results than the limit got out (then no replacement
                    // can follow); otherwise the front end has reported it and its replacement is awaited.
                    (Event::LieThenHeal { .. }, Some(&incarnation)) => {
                        status.incarnation > incarnation || view.wrong_total - wrong_before < wrong_limit
                    }
                    // A stopped manager comes back replaced (dropped by the sequencer) or caught up (not dropped).
                    (Event::Pause { .. }, Some(&incarnation)) => {
                        status.incarnation > incarnation
                            || caught_up_mark.is_some_and(|mark| status.executed_up_to >= mark)
                    }
                    // A killed, lying or crashing victim must be a new incarnation.
                    (_, Some(&incarnation)) => status.incarnation > incarnation,
                };
                renewed && status.in_vote && status.phase == manager::ReplicaPhase::Serving && frontend_agrees
            });
            all_back.then_some(())
        });
        let replaced: u64 = before
            .iter()
            .map(|(&id, &incarnation)| observer.status(id).map_or(0, |status| status.incarnation - incarnation))
            .sum();
        let counts = load.progress.counts();
        match recovered {
            Ok(()) => {
                let recovery = recovery_from.elapsed();
                observer.say(&format!(
                    "event {number}: every replica in the vote again after {} ms{} ({replaced} replaced); load so \
                     far: {} requests, {} failed",
                    recovery.as_millis(),
                    if caught_up_mark.is_some() { " since the resume" } else { "" },
                    counts.requests,
                    counts.unknown
                ));
                if let Event::Pause { replica, .. } = event {
                    let before = before.get(&replica).copied().unwrap_or(0);
                    let now = observer.status(replica).map_or(before, |status| status.incarnation);
                    observer
                        .say(&format!("event {number}: {}", pause_outcome(replica, (before, now), &mut sequencer_log)));
                }
                outcomes.push(Outcome { kind: event.kind(), replaced, recovery });
                let incarnations = event
                    .victims()
                    .into_iter()
                    .filter_map(|id| observer.status(id).ok().map(|status| (id, status.incarnation)))
                    .collect();
                last_victims = Some((number, incarnations));
            }
            Err(message) => {
                problems.push(format!("event {number} ({}): {message}", event.describe()));
                observer.say(&format!("event {number}: STUCK: {message}"));
                break;
            }
        }
    }
    // Load keeps running to the end of the duration after the last event.
    while Instant::now() < end {
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(200)));
    }
    let history_records = load.stop();
    observer.say("load stopped; waiting for every replica to reach the same seq");
    let (states, agreed) = observer.converge(CONVERGE_BOUND);
    if !agreed {
        problems.push("the replicas did not converge after the load stopped".to_owned());
    }
    let final_state = workload::read_final(&running.endpoint, &plan, REQUEST_TIMEOUT);
    let mut verdict = history::check(&history_records, &plan.capacities(), plan.customers.len(), &final_state);
    if let Some(violation) = history::check_digests(&states) {
        verdict.violations.push(violation);
    }
    let replacements: Vec<(u16, u64)> = observer
        .statuses()
        .into_iter()
        .map(|(id, status)| (id, status.map_or(0, |status| status.replacements)))
        .collect();
    let passed = verdict.violations.is_empty() && problems.is_empty() && verdict.unknown <= args.allowed_unknown;
    let summary = summary(args, started.elapsed(), &verdict, &outcomes, &problems, &replacements, &states, passed);
    print!("{summary}");
    if let Some(path) = &args.report {
        std::fs::write(path, &summary).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(passed)
}

/// Injects `event`; a `pause` returns its stopped manager, to be resumed by [`hold_and_resume`] (or, on any early
/// exit, by the guard's drop).
fn inject(observer: &Observer, running: &Running, event: &Event) -> Result<Option<PausedManager>, String> {
    match *event {
        Event::Kill { replica } => observer.kill_replica(replica).map(|_| None),
        Event::Lie { replica } => observer.inject(replica, Fault::Lie).map(|_| None),
        Event::CrashAfter { replica, requests } => {
            observer.inject(replica, Fault::CrashAfter { requests }).map(|_| None)
        }
        Event::LieThenHeal { replica } => {
            observer.inject(replica, Fault::Lie)?;
            // The heal may come too late: three wrong results already out and the replica being replaced, so
            // nobody is left to confirm it. The recovery condition tells the two cases apart.
            let _ = observer.inject(replica, Fault::None);
            Ok(None)
        }
        Event::Pause { replica, pause_ms } => {
            running.pause_manager(replica, Duration::from_millis(pause_ms) + WATCHDOG_MARGIN).map(Some)
        }
        Event::KillAndLie { killed, liar } => {
            observer.kill_replica(killed)?;
            observer.inject(liar, Fault::Lie).map(|_| None)
        }
    }
}

/// Keeps `stopped` stopped for `pause` (the event's own duration, not a wait for a condition), then resumes it;
/// returns the highest seq the other replicas had executed just before it was resumed.
fn hold_and_resume(observer: &Observer, stopped: PausedManager, pause: Duration) -> Result<u64, String> {
    let victim = stopped.replica_id;
    observer.wait_for(
        &format!("replica manager {victim} (pid {}) to be stopped", stopped.pid),
        QUERY_STOP_BOUND,
        || stopped.is_stopped().then_some(()),
    )?;
    std::thread::sleep(pause);
    let mark = observer
        .statuses()
        .into_iter()
        .filter(|(id, _)| *id != victim)
        .filter_map(|(_, status)| status.ok().map(|status| status.executed_up_to))
        .max()
        .unwrap_or(0);
    stopped.resume()?;
    Ok(mark)
}

/// How a paused manager came back (`incarnations`: before the stop, now), with the sequencer's `members live=` lines
/// flushed so far.
fn pause_outcome(replica: u16, incarnations: (u64, u64), sequencer_log: &mut LogTail) -> String {
    let changes: Vec<String> = sequencer_log
        .new_lines()
        .iter()
        .filter_map(|line| live_members(line))
        .map(|live| format!("{live:?}"))
        .collect();
    let sequencer = if changes.is_empty() {
        "no change of the sequencer's live members logged".to_owned()
    } else {
        format!("sequencer's live members {}", changes.join(" then "))
    };
    let (before, now) = incarnations;
    if now > before {
        format!(
            "replica manager {replica} came back behind the history: replica replaced by state transfer, \
             incarnation {before} -> {now} ({sequencer})"
        )
    } else {
        format!(
            "replica manager {replica} caught up without a replacement: the history held what it missed, \
             incarnation {now} kept ({sequencer})"
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    args: &ChaosArgs,
    elapsed: Duration,
    verdict: &history::Verdict,
    outcomes: &[Outcome],
    problems: &[String],
    replacements: &[(u16, u64)],
    states: &[history::ReplicaState],
    passed: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== cineflix chaos summary");
    let _ = writeln!(
        out,
        "seed {}, {} replicas, link drop/duplicate/reorder {:.1}% each, ran {:.1} s (asked {:.0} s)",
        args.seed,
        args.replicas,
        args.loss * 100.0,
        elapsed.as_secs_f64(),
        args.duration.as_secs_f64()
    );
    let rejected: Vec<String> = verdict.rejected.iter().map(|(code, count)| format!("{code} {count}")).collect();
    let _ = writeln!(
        out,
        "requests {}: acknowledged {}, rejected {} ({}), unknown outcome {} (allowed {})",
        verdict.requests,
        verdict.acknowledged,
        verdict.rejected_total(),
        if rejected.is_empty() { "none".to_owned() } else { rejected.join(", ") },
        verdict.unknown,
        args.allowed_unknown
    );
    for example in &verdict.unknown_examples {
        let _ = writeln!(out, "  unknown: {example}");
    }
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for outcome in outcomes {
        let entry = by_kind.entry(outcome.kind).or_default();
        entry.0 += 1;
        entry.1 += outcome.replaced;
    }
    let kinds: Vec<String> =
        by_kind.iter().map(|(kind, (count, replaced))| format!("{kind} {count} ({replaced} replaced)")).collect();
    let _ = writeln!(
        out,
        "events {}: {}",
        outcomes.len(),
        if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") }
    );
    let mut recoveries_ms: Vec<u128> = outcomes.iter().map(|outcome| outcome.recovery.as_millis()).collect();
    recoveries_ms.sort_unstable();
    if let (Some(max), Some(median)) = (recoveries_ms.last(), recoveries_ms.get(recoveries_ms.len() / 2)) {
        let _ = writeln!(out, "back in the vote after an event: median {median} ms, max {max} ms");
    }
    let total: u64 = replacements.iter().map(|(_, count)| count).sum();
    let per: Vec<String> = replacements.iter().map(|(id, count)| format!("rm{id} {count}")).collect();
    let by_events: u64 = outcomes.iter().map(|outcome| outcome.replaced).sum();
    let _ = writeln!(
        out,
        "replacements {total}: {} ({by_events} new incarnations seen during events, {} started otherwise)",
        per.join(", "),
        total.saturating_sub(by_events)
    );
    for line in Observer::describe_states(states) {
        let _ = writeln!(out, "{line}");
    }
    for problem in problems {
        let _ = writeln!(out, "problem: {problem}");
    }
    let _ = writeln!(out, "violations {}", verdict.violations.len());
    for violation in verdict.violations.iter().take(20) {
        let _ = writeln!(out, "  VIOLATION {violation}");
    }
    let _ = writeln!(out, "result: {}", if passed { "PASS" } else { "FAIL" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(seed: u64, replicas: Vec<u16>, count: usize) -> Vec<(Duration, Event)> {
        let mut schedule = Schedule::new(seed, replicas);
        (0..count).map(|_| schedule.next_event()).collect()
    }

    #[test]
    fn one_seed_gives_one_schedule() {
        assert_eq!(events(7, vec![1, 2, 3], 50), events(7, vec![1, 2, 3], 50));
        assert_ne!(events(7, vec![1, 2, 3], 50), events(8, vec![1, 2, 3], 50));
    }

    #[test]
    fn never_more_faulty_replicas_than_tolerated() {
        for (replicas, tolerated) in [(vec![1, 2, 3], 1), (vec![1, 2, 3, 4], 2)] {
            let mut kinds = std::collections::BTreeSet::new();
            for (gap, event) in events(3, replicas.clone(), 500) {
                let victims = event.victims();
                assert!(victims.len() <= tolerated, "{event:?} with {} replicas", replicas.len());
                assert!(victims.iter().all(|victim| replicas.contains(victim)));
                if let [first, second] = victims[..] {
                    assert_ne!(first, second, "two faults on one replica");
                }
                assert!((GAP_MIN_MS..=GAP_MAX_MS).contains(&(gap.as_millis() as u64)));
                if let Event::Pause { pause_ms, .. } = event {
                    assert!((PAUSE_MIN_MS..=PAUSE_MAX_MS).contains(&pause_ms), "{event:?}");
                }
                kinds.insert(event.kind());
            }
            assert_eq!(kinds.len(), if tolerated == 2 { 6 } else { 5 }, "every kind occurs: {kinds:?}");
            assert!(kinds.contains("pause"), "{kinds:?}");
        }
    }
}
