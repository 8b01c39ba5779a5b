//! `cineflix demo <scenario>`: the failure demonstrations of replication.md, narrated in plain words with
//! timestamps. Each demo starts a private cluster, drives the tracked workload, injects one fault scenario and tells
//! what happens as it is observed (front end log and `/status`, replica managers' status and audit logs), ending with
//! the evidence: request counts, the history check and every replica's seq and digest.
//!
//! Every narration step waits for an observed condition, with a bound; a bound that runs out fails the demo (exit 2)
//! after the evidence is printed. Deliberately not a test oracle of its own: the verdict is `workload::history`'s.

use crate::cli::{DemoArgs, DemoScenario};
use crate::outcome::{EXIT_FAULT, EXIT_SUCCESS};
use crate::workload::deployment::{LogTail, Observer, Running, excerpt, field, live_members};
use crate::workload::history::{self, Action, Answer, Record};
use crate::workload::{self, Plan, Workload};
use replica_api::Fault;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Answers acknowledged before a fault is injected, and again after recovery (conditions, not durations).
const ACKS_BEFORE_FAULT: u64 = 200;
const ACKS_AFTER_RECOVERY: u64 = 200;
/// Answers acknowledged while a stopped replica manager is out of the group (a condition, not a duration).
const ACKS_WHILE_STOPPED: u64 = 2_000;
/// Acknowledged answers the loss demo waits for.
const ACKS_UNDER_LOSS: u64 = 2_000;
/// Bounds of the narrated conditions.
const REPORT_BOUND: Duration = Duration::from_secs(20);
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
const LOAD_BOUND: Duration = Duration::from_secs(120);
const CONVERGE_BOUND: Duration = Duration::from_secs(30);
/// Client tasks and customers per task of the demos' workload.
const TASKS: usize = 6;
const CUSTOMERS_PER_TASK: usize = 3;
/// Per-request bound of the workload: above the front end's own timeout, so its answer (or fault) arrives first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Link fault rates of the loss demo.
const LOSS_RATE: f64 = 0.01;

pub fn run(args: &DemoArgs) -> u8 {
    match execute(args) {
        Ok(true) => EXIT_SUCCESS,
        Ok(false) => EXIT_FAULT,
        Err(message) => {
            eprintln!("cineflix demo: {message}");
            EXIT_FAULT
        }
    }
}

/// A running demo: the cluster, its observer, the load, and the log lines seen since the fault.
struct Demo {
    running: Running,
    observer: Observer,
    plan: Arc<Plan>,
    workload: Option<Workload>,
    history: Vec<Record>,
    frontend: SocketAddr,
    frontend_log: LogTail,
    rm_logs: Vec<(u16, LogTail)>,
    /// Lines seen since [`Demo::mark_logs`]: the front end's, and `(replica id, line)` of the RMs' audit logs.
    frontend_lines: Vec<String>,
    rm_lines: Vec<(u16, String)>,
    seed: u64,
}

fn execute(args: &DemoArgs) -> Result<bool, String> {
    let template = match args.scenario {
        DemoScenario::CrashAndLie => "replicated-n4.toml",
        _ => "cineflix.toml",
    };
    let template = args.config_dir.join(template);
    let lossy = args.scenario == DemoScenario::Loss;
    println!("== cineflix demo {}: {}", args.scenario.name(), args.scenario.summary());
    let running = workload::deployment::start(&template, &format!("demo-{}", args.scenario.name()), |config| {
        if lossy {
            config.faults.drop = LOSS_RATE;
            config.faults.duplicate = LOSS_RATE;
            config.faults.reorder = LOSS_RATE;
        }
    })?;
    let observer = Observer::new(&running.deployment.config)?;
    let config = &running.deployment.config;
    observer.say(&format!(
        "cluster up: {} replicas ({} vote), front end {}, logs in {}",
        config.replicas.len(),
        match config.frontend.vote {
            config::VoteMode::Software => "software-failure",
            config::VoteMode::Crash => "crash",
        },
        running.endpoint.url,
        config.logs.dir.display()
    ));
    if lossy {
        observer.say(&format!(
            "every UDP link drops {:.0}%, duplicates {:.0}% and reorders {:.0}% of its datagrams",
            config.faults.drop * 100.0,
            config.faults.duplicate * 100.0,
            config.faults.reorder * 100.0
        ));
    }
    let today = booking::time::today(jiff::Timestamp::now().as_millisecond(), &booking::time::montreal()).0;
    let plan = Arc::new(Plan::new(today, TASKS, CUSTOMERS_PER_TASK));
    workload::setup(&running.endpoint, &plan, REQUEST_TIMEOUT)?;
    let frontend = config.frontend.listen;
    let frontend_log = LogTail::from_end(running.log_path("frontend.log"));
    let rm_logs = config
        .replicas
        .iter()
        .map(|replica| (replica.id, LogTail::from_end(running.log_path(&format!("rm-{}.log", replica.id)))))
        .collect();
    let mut demo = Demo {
        running,
        observer,
        plan,
        workload: None,
        history: Vec::new(),
        frontend,
        frontend_log,
        rm_logs,
        frontend_lines: Vec::new(),
        rm_lines: Vec::new(),
        seed: args.seed,
    };
    let scenario = (|| {
        demo.start_load("load started")?;
        match args.scenario {
            DemoScenario::Crash => demo.crash(2),
            DemoScenario::Liar => demo.liar(3),
            DemoScenario::ThreeStrikes => demo.three_strikes(2),
            DemoScenario::CrashAndLie => demo.crash_and_lie(3, 4),
            DemoScenario::Loss => demo.loss(),
            DemoScenario::Pause => demo.pause(2),
        }
    })();
    let scenario = scenario.and_then(|()| {
        if args.scenario == DemoScenario::Loss {
            return Ok(());
        }
        let from = demo.counts().acknowledged;
        demo.wait_acks(from + ACKS_AFTER_RECOVERY, "clients keep being served after the recovery")
    });
    if let Err(message) = &scenario {
        demo.observer.say(&format!("FAILED: {message}"));
    }
    let passed = demo.finish() && scenario.is_ok();
    demo.running.stop(args.keep_logs || !passed);
    Ok(passed)
}

impl Demo {
    fn say(&self, text: &str) {
        self.observer.say(text);
    }

    fn counts(&self) -> workload::Counts {
        self.workload.as_ref().map(|workload| workload.progress.counts()).unwrap_or_default()
    }

    fn start_load(&mut self, what: &str) -> Result<(), String> {
        let workload = Workload::start(&self.running.endpoint, self.plan.clone(), self.seed, REQUEST_TIMEOUT)?;
        self.workload = Some(workload);
        self.seed = self.seed.wrapping_add(1);
        self.say(&format!(
            "{what}: {TASKS} clients over keep-alive SOAP connections, {} customers booking, cancelling, \
             exchanging and reading on {} slots",
            self.plan.customers.len(),
            self.plan.slots.len()
        ));
        self.wait_acks(ACKS_BEFORE_FAULT, "load running")
    }

    fn stop_load(&mut self) {
        if let Some(workload) = self.workload.take() {
            let mut records = workload.stop();
            self.history.append(&mut records);
        }
    }

    fn wait_acks(&self, target: u64, what: &str) -> Result<(), String> {
        let counts = self.observer.wait_for(what, LOAD_BOUND, || {
            let counts = self.counts();
            (counts.acknowledged >= target).then_some(counts)
        })?;
        self.say(&format!(
            "{what}: {} requests answered, {} acknowledged, {} rejected by the booking rules, {} failed",
            counts.requests - counts.unknown,
            counts.acknowledged,
            counts.rejected,
            counts.unknown
        ));
        Ok(())
    }

    /// Forgets log lines written so far: what follows is caused by the next fault.
    fn mark_logs(&mut self) {
        self.refresh_logs();
        self.frontend_lines.clear();
        self.rm_lines.clear();
    }

    fn refresh_logs(&mut self) {
        self.frontend_lines.extend(self.frontend_log.new_lines());
        for (id, tail) in &mut self.rm_logs {
            self.rm_lines.extend(tail.new_lines().into_iter().map(|line| (*id, line)));
        }
    }

    /// Waits for a front-end log line (seen since the mark) that `matches`.
    fn frontend_line(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> Result<String, String> {
        let bound = Instant::now() + REPORT_BOUND;
        loop {
            self.refresh_logs();
            if let Some(line) = self.frontend_lines.iter().find(|line| matches(line)) {
                return Ok(line.clone());
            }
            if Instant::now() >= bound {
                return Err(format!("no front-end log line {what} within {} s", REPORT_BOUND.as_secs()));
            }
            std::thread::sleep(workload::deployment::POLL_INTERVAL);
        }
    }

    fn rm_line(&mut self, what: &str, matches: impl Fn(u16, &str) -> bool) -> Result<(u16, String), String> {
        let bound = Instant::now() + REPORT_BOUND;
        loop {
            self.refresh_logs();
            if let Some(found) = self.rm_lines.iter().find(|(id, line)| matches(*id, line)) {
                return Ok(found.clone());
            }
            if Instant::now() >= bound {
                return Err(format!("no replica-manager audit line {what} within {} s", REPORT_BOUND.as_secs()));
            }
            std::thread::sleep(workload::deployment::POLL_INTERVAL);
        }
    }

    fn crash(&mut self, victim: u16) -> Result<(), String> {
        let before = self.observer.status(victim)?;
        self.mark_logs();
        let pid = self.observer.kill_replica(victim)?;
        let fault_at = Instant::now();
        self.say(&format!(
            "fault injected: replica {victim}'s process (pid {pid}, incarnation {}, executed seq {}) killed with SIGKILL",
            before.incarnation, before.executed_up_to
        ));
        self.frontend_reports_crash(victim)?;
        self.managers_agree(victim)?;
        self.replaced_and_back(victim, before, fault_at, "the fault")
    }

    fn liar(&mut self, victim: u16) -> Result<(), String> {
        let before = self.observer.status(victim)?;
        self.mark_logs();
        self.observer.inject(victim, Fault::Lie)?;
        let fault_at = Instant::now();
        self.say(&format!(
            "fault injected: replica {victim} (incarnation {}) now answers every request with a wrong result",
            before.incarnation
        ));
        self.frontend_reports_lies(victim)?;
        self.managers_agree(victim)?;
        self.replaced_and_back(victim, before, fault_at, "the fault")
    }

    fn crash_and_lie(&mut self, crashed: u16, liar: u16) -> Result<(), String> {
        let crashed_before = self.observer.status(crashed)?;
        let liar_before = self.observer.status(liar)?;
        self.mark_logs();
        let pid = self.observer.kill_replica(crashed)?;
        self.observer.inject(liar, Fault::Lie)?;
        let fault_at = Instant::now();
        self.say(&format!(
            "faults injected at once: replica {crashed} (pid {pid}) killed with SIGKILL, and replica {liar} answers \
             wrongly from now on; two correct replicas of four remain"
        ));
        self.frontend_reports_crash(crashed)?;
        self.frontend_reports_lies(liar)?;
        self.managers_agree(crashed)?;
        self.managers_agree(liar)?;
        self.replaced_and_back(crashed, crashed_before, fault_at, "the fault")?;
        self.replaced_and_back(liar, liar_before, fault_at, "the fault")
    }

    /// The three-consecutive rule with its reset, driven one request at a time so that each answer is known:
    /// wrong, wrong, right, wrong, wrong, right leaves the replica in place; wrong, wrong, wrong replaces it.
    /// `lie-next N` makes the replica answer its next N requests wrongly and then correctly again.
    fn three_strikes(&mut self, victim: u16) -> Result<(), String> {
        self.stop_load();
        self.say("load paused: the next requests are sent one at a time, so the front end's count can be followed");
        let before = self.observer.status(victim)?;
        self.mark_logs();
        let mut sent = 0;
        for round in 1..=2 {
            self.observer.inject(victim, Fault::LieNext { jobs: 2 })?;
            self.say(&format!(
                "fault injected (round {round}): replica {victim} lies on its next 2 answers (lie-next 2)"
            ));
            for expected in [1, 2, 0] {
                sent += 1;
                self.hand_request(victim, sent, expected)?;
            }
        }
        let status = self.observer.status(victim)?;
        self.say(&format!(
            "wrong, wrong, right, wrong, wrong, right: never three in a row, so replica {victim} stays (incarnation {}, \
             {} replacements)",
            status.incarnation, status.replacements
        ));
        if status.incarnation != before.incarnation || status.replacements != before.replacements {
            return Err(format!("replica {victim} was replaced although it never lied three times in a row"));
        }
        self.observer.inject(victim, Fault::LieNext { jobs: 3 })?;
        let fault_at = Instant::now();
        self.say(&format!("fault injected (round 3): replica {victim} lies on its next 3 answers (lie-next 3)"));
        for expected in 1..=2 {
            sent += 1;
            self.hand_request(victim, sent, expected)?;
        }
        sent += 1;
        self.send_one(sent)?;
        let line = self.frontend_line("counting a third consecutive wrong result", |line| {
            line.contains("wrong result")
                && field(line, "replica") == Some(&victim.to_string())
                && field(line, "consecutive") == Some("3")
        })?;
        self.say(&format!("front end reports the third wrong result in a row: {}", excerpt(&line)));
        self.managers_agree(victim)?;
        self.replaced_and_back(victim, before, fault_at, "the fault")?;
        self.start_load("load resumed")
    }

    /// A replica manager stopped with SIGSTOP under load: the sequencer drops it once it has been silent for
    /// `member_timeout_ms` with its history half full, the other two keep answering; resumed, the manager finds itself
    /// behind the sequencer's history and replaces its replica by state transfer (`reason=Behind`).
    fn pause(&mut self, victim: u16) -> Result<(), String> {
        let before = self.observer.status(victim)?;
        let others: Vec<u16> = self.observer.replica_ids().into_iter().filter(|&id| id != victim).collect();
        let mut sequencer = SequencerLog::new(self.running.log_path("sequencer.log"));
        self.mark_logs();
        // Resumed by the demo once the steps below are seen; the watchdog's bound covers the longest they may take.
        let paused = self.running.pause_manager(victim, REPORT_BOUND + RECOVERY_BOUND + LOAD_BOUND)?;
        let fault_at = Instant::now();
        self.observer
            .wait_for("the kernel to report the manager stopped", REPORT_BOUND, || paused.is_stopped().then_some(()))?;
        let acks_at_stop = self.counts().acknowledged;
        self.say(&format!(
            "fault injected: replica manager {victim}'s process (pid {}, incarnation {}, executed seq {}) stopped with \
             SIGSTOP (state T); its replica keeps running but is fed nothing",
            paused.pid, before.incarnation, before.executed_up_to
        ));
        let dropped = sequencer
            .wait(&self.observer, &format!("the sequencer to drop member {victim}"), |live| !live.contains(&victim))?;
        self.say(&format!(
            "sequencer drops the silent manager {:.0} ms after the stop (its history half full, {victim} silent for \
             member_timeout_ms), {} requests acknowledged meanwhile: {}",
            fault_at.elapsed().as_secs_f64() * 1000.0,
            self.counts().acknowledged - acks_at_stop,
            excerpt(&dropped)
        ));
        let from = self.counts().acknowledged;
        self.wait_acks(
            from + ACKS_WHILE_STOPPED,
            &format!("requests keep being answered by replicas {others:?} while manager {victim} is stopped"),
        )?;
        let stopped_for = fault_at.elapsed();
        paused.resume()?;
        let resumed_at = Instant::now();
        self.say(&format!(
            "replica manager {victim} resumed with SIGCONT after {:.0} ms stopped",
            stopped_for.as_secs_f64() * 1000.0
        ));
        let (_, behind) = self.rm_line("finding itself behind the sequencer's history", |rm, line| {
            rm == victim && line.contains("behind skipped")
        })?;
        self.say(&format!("rm{victim} finds it missed requests the group has freed: {}", audit_text(&behind)));
        let (_, started) = self.rm_line(&format!("starting replica {victim}'s replacement"), |rm, line| {
            rm == victim && line.contains("replacement_started")
        })?;
        if !started.contains("reason=Behind") {
            return Err(format!("rm{victim} replaced its replica for another reason: {}", audit_text(&started)));
        }
        self.say(&format!("rm{victim} replaces its stale replica (reason=Behind): {}", audit_text(&started)));
        self.replaced_and_back(victim, before, resumed_at, "the resume")?;
        let taken_back =
            sequencer.wait(&self.observer, &format!("the sequencer to take member {victim} back"), |live| {
                live.contains(&victim) && others.iter().all(|id| live.contains(id))
            })?;
        self.say(&format!("sequencer counts it live again: {}", excerpt(&taken_back)));
        Ok(())
    }

    /// Books one ticket for customer 0 and checks the client got the right answer.
    fn send_one(&mut self, number: u32) -> Result<(), String> {
        let record = workload::call_once(
            &self.running.endpoint,
            &self.plan,
            0,
            Action::Book { slot: 0, tickets: 1 },
            REQUEST_TIMEOUT,
        );
        let answer = record.answer.clone();
        self.history.push(record);
        match answer {
            Answer::Ok => Ok(()),
            other => Err(format!("request {number} was answered {other:?}, not OK")),
        }
    }

    /// [`Demo::send_one`], then waits until the front end counts `expected` consecutive wrong results of `victim`.
    fn hand_request(&mut self, victim: u16, number: u32, expected: u64) -> Result<(), String> {
        self.send_one(number)?;
        let frontend = self.frontend;
        self.observer.wait_for(
            &format!("the front end to count {expected} consecutive wrong results of replica {victim}"),
            REPORT_BOUND,
            || self.observer.frontend_view(frontend, victim).filter(|view| view.consecutive_wrong == expected),
        )?;
        let what = if expected == 0 {
            "a right answer resets the count to 0".to_owned()
        } else {
            format!("{expected} wrong in a row")
        };
        self.say(&format!(
            "request {number}: the client got OK (two agreeing replicas); front end counts replica {victim}: {what}"
        ));
        Ok(())
    }

    fn loss(&mut self) -> Result<(), String> {
        let start = self.counts().acknowledged;
        for quarter in 1..=4 {
            self.wait_acks(start + ACKS_UNDER_LOSS * quarter / 4, "load over lossy links")?;
        }
        let body = crate::operator::http_get_status(self.frontend, Duration::from_secs(1))?;
        let number = |key: &str| crate::operator::json_number(&body, key).unwrap_or(0);
        self.say(&format!(
            "front end reports: {} requests, {} decided by an agreeing majority, {} unavailable",
            number("requests"),
            number("decided"),
            number("unavailable")
        ));
        for (id, status) in self.observer.statuses() {
            let status = status?;
            self.say(&format!(
                "replica manager {id}: delivered seq {}, executed seq {}, {} replacements, {}",
                status.delivered_up_to,
                status.executed_up_to,
                status.replacements,
                if status.in_vote { "in the vote" } else { "OUT of the vote" }
            ));
        }
        Ok(())
    }

    fn frontend_reports_crash(&mut self, victim: u16) -> Result<(), String> {
        let id = victim.to_string();
        let line = self.frontend_line(&format!("about replica {victim}'s crash"), |line| {
            (line.contains("suspected of a crash") && field(line, "replica") == Some(&id))
                || (line.contains("membership")
                    && field(line, "replica_id") == Some(&id)
                    && field(line, "in_vote") == Some("false"))
        })?;
        let what = if line.contains("suspected") { "suspects a crash" } else { "takes it out of the vote" };
        self.say(&format!("front end {what}: {}", excerpt(&line)));
        Ok(())
    }

    fn frontend_reports_lies(&mut self, victim: u16) -> Result<(), String> {
        let id = victim.to_string();
        for count in 1..=3 {
            let wanted = count.to_string();
            let line = self.frontend_line(&format!("counting wrong result {count} of replica {victim}"), |line| {
                line.contains("wrong result")
                    && field(line, "replica") == Some(&id)
                    && field(line, "consecutive") == Some(&wanted)
            })?;
            self.say(&format!("front end reports wrong result {count} in a row, outvoted: {}", excerpt(&line)));
        }
        Ok(())
    }

    /// The replica managers' audit lines about `victim`: the others' verdicts or wrong reports, then the victim's
    /// manager starting the replacement.
    fn managers_agree(&mut self, victim: u16) -> Result<(), String> {
        let id = victim.to_string();
        let (_, started) = self.rm_line(&format!("starting replica {victim}'s replacement"), |rm, line| {
            rm == victim && line.contains("replacement_started")
        })?;
        let mut agreeing: Vec<String> = self
            .rm_lines
            .iter()
            .filter(|(_, line)| {
                (line.contains("verdict") && field(line, "suspect") == Some(&id))
                    || (line.contains("wrong_reported")
                        && field(line, "replica_id") == Some(&id)
                        && field(line, "consecutive") == Some("3"))
            })
            .map(|(rm, line)| format!("rm{rm}: {}", audit_text(line)))
            .collect();
        agreeing.dedup();
        if agreeing.is_empty() {
            self.say(&format!("replica managers agree: rm{victim} {}", audit_text(&started)));
        } else {
            self.say(&format!(
                "replica managers agree: {}",
                agreeing.iter().take(4).cloned().collect::<Vec<_>>().join("; ")
            ));
            self.say(&format!("rm{victim} acts on it: {}", audit_text(&started)));
        }
        Ok(())
    }

    /// Follows `victim`'s replacement: new incarnation, state transfer phases, back in the vote.
    fn replaced_and_back(
        &mut self,
        victim: u16,
        before: rm::status::RmStatus,
        fault_at: Instant,
        since: &str,
    ) -> Result<(), String> {
        let replaced = self.observer.wait_for(&format!("replica {victim}'s replacement"), RECOVERY_BOUND, || {
            self.observer.status(victim).ok().filter(|status| status.incarnation > before.incarnation)
        })?;
        let pid = if replaced.replica_pid == 0 { String::new() } else { format!("pid {}, ", replaced.replica_pid) };
        self.say(&format!(
            "replica replaced: rm{victim} started incarnation {} ({pid}replacement #{})",
            replaced.incarnation, replaced.replacements
        ));
        let mut last_phase = None;
        let back = self.observer.wait_for(&format!("replica {victim} back in the vote"), RECOVERY_BOUND, || {
            let status = self.observer.status(victim).ok()?;
            if last_phase != Some(status.phase) {
                last_phase = Some(status.phase);
                self.say(&format!(
                    "  rm{victim} phase {} (delivered seq {}, executed seq {})",
                    crate::operator::phase_name(status.phase),
                    status.delivered_up_to,
                    status.executed_up_to
                ));
            }
            (status.incarnation > before.incarnation
                && status.in_vote
                && status.phase == manager::ReplicaPhase::Serving)
                .then_some(status)
        })?;
        if let Ok((_, line)) =
            self.rm_line("agreeing on a snapshot", |rm, line| rm == victim && line.contains("snapshot_agreed"))
        {
            self.say(&format!("state transferred: rm{victim} {}", audit_text(&line)));
        }
        if let Ok((_, line)) = self.rm_line("rejoining", |rm, line| rm == victim && line.contains("rejoined")) {
            self.say(&format!("  rm{victim} {}", audit_text(&line)));
        }
        let incarnation = back.incarnation.to_string();
        let id = victim.to_string();
        let membership = self.frontend_line("about the replacement joining the vote", |line| {
            line.contains("membership")
                && field(line, "replica_id") == Some(&id)
                && field(line, "incarnation") == Some(&incarnation)
                && field(line, "in_vote") == Some("true")
        });
        self.say(&format!(
            "back in the vote: replica {victim} incarnation {} serving at seq {}, {:.0} ms after {since}{}",
            back.incarnation,
            back.executed_up_to,
            fault_at.elapsed().as_secs_f64() * 1000.0,
            membership.map(|line| format!("; front end: {}", excerpt(&line))).unwrap_or_default()
        ));
        Ok(())
    }

    /// Stops the load, checks the history and prints the evidence; whether everything held.
    fn finish(&mut self) -> bool {
        self.stop_load();
        let mut passed = true;
        let unknown = self.history.iter().filter(|record| matches!(record.answer, Answer::Unknown(_))).count();
        if unknown == 0 {
            self.say(&format!(
                "clients saw no error: {} requests, {} acknowledged, {} rejected by the booking rules (SOLD_OUT on the \
                 contended slots and the like), 0 failed",
                self.history.len(),
                self.history
                    .iter()
                    .filter(|record| matches!(record.answer, Answer::Ok | Answer::Schedule { .. }))
                    .count(),
                self.history.iter().filter(|record| matches!(record.answer, Answer::Rejected(_))).count()
            ));
        } else {
            passed = false;
            self.say(&format!("clients saw {unknown} failed requests (SOAP fault, transport error or timeout)"));
        }
        // Read back first: the reads are ordered requests too, so the replicas are compared after them.
        let final_state = workload::read_final(&self.running.endpoint, &self.plan, REQUEST_TIMEOUT);
        let (states, agreed) = self.observer.converge(CONVERGE_BOUND);
        let seq = states.first().map_or(0, |state| state.next_expected.saturating_sub(1));
        if agreed {
            self.say(&format!(
                "replica managers agree: all {} replicas in the vote at seq {seq} with digest {}",
                states.len(),
                states.first().map(|state| history::hex8(&state.digest)).unwrap_or_default()
            ));
        } else {
            passed = false;
            self.say("replicas did NOT converge:");
        }
        let mut verdict =
            history::check(&self.history, &self.plan.capacities(), self.plan.customers.len(), &final_state);
        if let Some(violation) = history::check_digests(&states) {
            verdict.violations.push(violation);
        }
        println!("-- evidence");
        println!(
            "requests {}: acknowledged {}, rejected {}{}, without answer {}",
            verdict.requests,
            verdict.acknowledged,
            verdict.rejected_total(),
            if verdict.rejected.is_empty() {
                String::new()
            } else {
                let codes: Vec<String> =
                    verdict.rejected.iter().map(|(code, count)| format!("{code} {count}")).collect();
                format!(" ({})", codes.join(", "))
            },
            verdict.unknown
        );
        println!(
            "history check: {} customers, {} slots: every acknowledged request applied exactly once, seats conserved: \
             violations {}",
            self.plan.customers.len(),
            self.plan.slots.len(),
            verdict.violations.len()
        );
        for violation in verdict.violations.iter().take(10) {
            println!("  VIOLATION {violation}");
        }
        for (id, status) in self.observer.statuses() {
            let state = states.iter().find(|state| state.replica_id == id);
            match status {
                Ok(status) => println!(
                    "replica {id}: incarnation {}, {} replacements, at seq {}, digest {}",
                    status.incarnation,
                    status.replacements,
                    state.map_or_else(|| "unknown".to_owned(), |state| (state.next_expected - 1).to_string()),
                    state.map(|state| history::hex8(&state.digest)).unwrap_or_else(|| "unknown".to_owned())
                ),
                Err(error) => println!("replica {id}: no status ({error})"),
            }
        }
        passed && verdict.violations.is_empty()
    }
}

/// An audit line without its timestamp.
fn audit_text(line: &str) -> String {
    excerpt(line.split_once(' ').map_or(line, |(_, rest)| rest))
}

/// The sequencer's `members live=` lines, read in order from where the demo started following them.
struct SequencerLog {
    tail: LogTail,
    /// Lines read but not consumed by a [`SequencerLog::wait`] yet.
    unread: std::collections::VecDeque<String>,
}

impl SequencerLog {
    fn new(path: std::path::PathBuf) -> SequencerLog {
        SequencerLog { tail: LogTail::from_end(path), unread: Default::default() }
    }

    /// Waits (bounded; the sequencer flushes its log every 200 ms) for the next `members live=` line whose live set
    /// satisfies `wanted`; the lines before it are consumed.
    fn wait(&mut self, observer: &Observer, what: &str, wanted: impl Fn(&[u16]) -> bool) -> Result<String, String> {
        observer.wait_for(what, RECOVERY_BOUND, || {
            self.unread.extend(self.tail.new_lines());
            while let Some(line) = self.unread.pop_front() {
                if live_members(&line).is_some_and(|live| wanted(&live)) {
                    return Some(line);
                }
            }
            None
        })
    }
}
