//! `cineflix grade`: the scenario suite for course graders. It runs every case against a running system
//! (`--endpoint URL`, any host) or against private local deployments it starts itself (`--local`, the default), and
//! prints a table (id, scenario, expected, observed, PASS/FAIL/SKIP, time); `--report-dir` also writes `grade.md`
//! and JUnit `grade.xml`.
//!
//! Groups: `functional` (every operation × rule × result code of booking.md), `soap` (the faults of
//! soap-contract.md, sent as raw envelopes), `concurrency` (customers racing for the last seats) and `failure`
//! (replication.md: crash under load, a lying replica, the three-consecutive rule and its reset, crash and lie at
//! once with n = 4, datagram loss). Failure cases need the control plane (the deployment's configuration names the
//! replica managers); with `--endpoint` and no `--config` they are SKIPped, never counted as passed.
//!
//! Every case makes its own data (fresh customer IDs with an empty schedule, slots absent from the listings) and
//! never reads what another case made, so the suite runs against a system already in use; what it created is
//! cancelled and removed at the end (case `Z01`).
//!
//! Exit codes: 0 no case failed (skips allowed, and counted in the summary), 1 a case failed, 64 usage error.
//! Deliberately not here: booking rules (the expected answers are the spec's, written per case; the system computes
//! the rest) and any repair of a deployment.

mod concurrency;
mod failure;
mod functional;
mod load;
mod report;
mod soap_faults;
mod target;

use crate::cli::{GlobalArgs, GradeArgs};
use crate::outcome::EXIT_USAGE;
use booking::ResultCode;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use target::Target;

/// How long a private deployment may take to answer its first request.
const START_WAIT: Duration = Duration::from_secs(60);
/// SIGTERM grace before SIGKILL when a private deployment stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The groups of cases, in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Functional,
    Soap,
    Concurrency,
    Failure,
    Cleanup,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Functional => "functional",
            Group::Soap => "soap",
            Group::Concurrency => "concurrency",
            Group::Failure => "failure",
            Group::Cleanup => "cleanup",
        }
    }
}

/// What a case needs of the deployment beyond its SOAP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// The SOAP endpoint only.
    Service,
    /// The replica managers' addresses (fault injection, status) and a replicated deployment.
    ControlPlane,
    /// The control plane of a deployment with at least four replicas.
    FourReplicas,
    /// The control plane of a deployment whose UDP links drop, duplicate and reorder datagrams.
    LossyLinks,
}

/// One scenario of the suite.
pub struct Case {
    pub id: &'static str,
    pub group: Group,
    pub scenario: &'static str,
    pub expected: &'static str,
    /// The booking.md result codes this case observes when it passes (for coverage reports).
    pub codes: &'static [ResultCode],
    pub needs: Needs,
    pub run: fn(&mut Target) -> CaseResult,
}

/// Why a case stopped without passing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The system did something the spec forbids; the text is what was observed.
    Fail(String),
    /// The case cannot run here; the text says why.
    Skip(String),
}

/// What a case observed when it passed, or why it stopped.
pub type CaseResult = Result<String, Stop>;

/// Shorthand for a failing observation.
pub fn fail<T>(observed: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(observed.into()))
}

/// A case's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub group: &'static str,
    pub scenario: String,
    pub expected: String,
    pub observed: String,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub codes: Vec<&'static str>,
    /// Which deployment the case ran against (a URL), for the report.
    pub deployment: String,
}

/// Every case, in run order.
pub fn all_cases() -> Vec<Case> {
    let mut cases = functional::cases();
    cases.extend(soap_faults::cases());
    cases.extend(concurrency::cases());
    cases.extend(failure::cases());
    cases
}

/// `--only`: a case is selected when the pattern occurs (any case) in its id, group or scenario.
fn selected(case: &Case, only: Option<&str>) -> bool {
    let Some(pattern) = only else { return true };
    let pattern = pattern.to_lowercase();
    [case.id, case.group.name(), case.scenario].iter().any(|text| text.to_lowercase().contains(&pattern))
}

pub fn run(global: &GlobalArgs, args: &GradeArgs) -> u8 {
    let started = Instant::now();
    let cases: Vec<Case> = all_cases().into_iter().filter(|case| selected(case, args.only.as_deref())).collect();
    if cases.is_empty() {
        eprintln!("cineflix grade: error: no case matches --only {:?}", args.only.as_deref().unwrap_or(""));
        return EXIT_USAGE;
    }
    if args.list {
        for case in &cases {
            let codes: Vec<&str> = case.codes.iter().map(|code| code.as_str()).collect();
            println!("{}\t{}\t{}\t{}", case.id, case.group.name(), case.scenario, codes.join(","));
        }
        return 0;
    }
    // The global --endpoint has a default; grading a remote system needs it given explicitly.
    let endpoint_given = std::env::args().any(|arg| arg == "--endpoint" || arg.starts_with("--endpoint="));
    if endpoint_given && args.local {
        eprintln!("cineflix grade: error: --local and --endpoint exclude each other");
        return EXIT_USAGE;
    }
    if !endpoint_given && args.config.is_some() {
        eprintln!("cineflix grade: error: --config describes the deployment behind --endpoint; pass both");
        return EXIT_USAGE;
    }
    let remote = endpoint_given.then_some(global.endpoint.as_str());
    let outcomes = match remote {
        Some(endpoint) => match run_remote(global, args, endpoint, &cases) {
            Ok(outcomes) => outcomes,
            Err(message) => {
                eprintln!("cineflix grade: error: {message}");
                return EXIT_USAGE;
            }
        },
        None => run_local(global, args, &cases),
    };
    let summary = report::Summary::of(&outcomes, started.elapsed());
    let rendered = if global.json { report::json(&outcomes, &summary) } else { report::table(&outcomes, &summary) };
    print!("{rendered}");
    if let Some(dir) = &args.report_dir
        && let Err(message) = write_reports(dir, &outcomes, &summary)
    {
        eprintln!("cineflix grade: error: {message}");
        return 1;
    }
    if summary.failed > 0 { 1 } else { 0 }
}

fn write_reports(dir: &Path, outcomes: &[Outcome], summary: &report::Summary) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let markdown = dir.join("grade.md");
    std::fs::write(&markdown, report::markdown(outcomes, summary))
        .map_err(|error| format!("cannot write {}: {error}", markdown.display()))?;
    let junit = dir.join("grade.xml");
    let xml = report::junit(outcomes, summary).map_err(|error| format!("cannot render JUnit XML: {error}"))?;
    std::fs::write(&junit, xml).map_err(|error| format!("cannot write {}: {error}", junit.display()))?;
    Ok(())
}

/// Runs `cases` against one deployment; cases whose needs it cannot meet are SKIPped with `why_not`'s reason.
fn run_cases(target: &mut Target, cases: &[&Case], why_not: impl Fn(Needs) -> Option<String>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for case in cases {
        let started = Instant::now();
        let result = match why_not(case.needs) {
            Some(reason) => Err(Stop::Skip(reason)),
            None => {
                eprintln!("grade: {} {}", case.id, case.scenario);
                target.begin_case(case.id);
                (case.run)(target)
            }
        };
        let (verdict, observed) = match result {
            Ok(observed) => (Verdict::Pass, observed),
            Err(Stop::Fail(observed)) => (Verdict::Fail, observed),
            Err(Stop::Skip(reason)) => (Verdict::Skip, reason),
        };
        outcomes.push(Outcome {
            id: case.id.to_owned(),
            group: case.group.name(),
            scenario: case.scenario.to_owned(),
            expected: case.expected.to_owned(),
            observed,
            verdict,
            duration_ms: started.elapsed().as_millis() as u64,
            codes: case.codes.iter().map(|code| code.as_str()).collect(),
            deployment: target.endpoint.url.clone(),
        });
    }
    outcomes
}

/// The cleanup row: cancels the grader's bookings and removes its slots on one deployment (`Z01`, `Z02`, ... one per
/// deployment graded).
fn cleanup(target: &mut Target, number: usize, deployment: &str) -> Outcome {
    let started = Instant::now();
    let (verdict, observed) = match target.cleanup() {
        Ok(observed) => (Verdict::Pass, observed),
        Err(Stop::Fail(observed)) => (Verdict::Fail, observed),
        Err(Stop::Skip(reason)) => (Verdict::Skip, reason),
    };
    Outcome {
        id: format!("Z{number:02}"),
        group: Group::Cleanup.name(),
        scenario: format!("cleanup of the {deployment} deployment: the grader's bookings cancelled, slots removed"),
        expected: "every cancel and remove OK".to_owned(),
        observed,
        verdict,
        duration_ms: started.elapsed().as_millis() as u64,
        codes: Vec::new(),
        deployment: target.endpoint.url.clone(),
    }
}

fn run_remote(global: &GlobalArgs, args: &GradeArgs, endpoint: &str, cases: &[Case]) -> Result<Vec<Outcome>, String> {
    let config = match &args.config {
        Some(path) => Some(config::Config::load(path).map_err(|error| format!("{}: {error}", path.display()))?),
        None => None,
    };
    let mut target = Target::new(endpoint, config, global)?;
    let all: Vec<&Case> = cases.iter().collect();
    let shape = target.shape();
    let mut outcomes = run_cases(&mut target, &all, |needs| target_lacks(shape, needs));
    outcomes.push(cleanup(&mut target, 1, "graded"));
    Ok(outcomes)
}

/// What a deployment offers, as far as the case needs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The configuration was given and describes a replicated deployment.
    pub control_plane: bool,
    pub replicas: usize,
    /// Any link fault rate is above zero.
    pub lossy: bool,
}

/// Why a deployment of `shape` cannot run a case that `needs`, or `None` when it can.
pub fn target_lacks(shape: Shape, needs: Needs) -> Option<String> {
    let control = "needs the control plane: pass --config FILE (the deployment's configuration, naming its replica \
                   managers) with --endpoint";
    match needs {
        Needs::Service => None,
        Needs::ControlPlane | Needs::FourReplicas | Needs::LossyLinks if !shape.control_plane => Some(control.into()),
        Needs::ControlPlane => None,
        Needs::FourReplicas if shape.replicas < 4 => {
            Some(format!("needs a deployment of at least 4 replicas (this one has {})", shape.replicas))
        }
        Needs::FourReplicas => None,
        Needs::LossyLinks if !shape.lossy => {
            Some("needs a deployment whose [faults] drop/duplicate/reorder rates are above zero".into())
        }
        Needs::LossyLinks => None,
    }
}

/// The private deployments of `--local`, and which cases run on which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Private {
    /// n = 3 from cineflix.toml: everything but the two below.
    Three,
    /// n = 4 from replicated-n4.toml: crash and lie at once.
    Four,
    /// n = 3 with 1% drop, duplicate and reorder on every link.
    Lossy,
}

impl Private {
    fn template(self) -> &'static str {
        match self {
            Private::Three | Private::Lossy => "cineflix.toml",
            Private::Four => "replicated-n4.toml",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Private::Three => "n = 3",
            Private::Four => "n = 4",
            Private::Lossy => "lossy n = 3",
        }
    }

    fn for_needs(needs: Needs) -> Private {
        match needs {
            Needs::FourReplicas => Private::Four,
            Needs::LossyLinks => Private::Lossy,
            Needs::Service | Needs::ControlPlane => Private::Three,
        }
    }
}

/// Link fault rate of the lossy private deployment (the 1%).
const LOSSY_RATE: f64 = 0.01;

fn run_local(global: &GlobalArgs, args: &GradeArgs, cases: &[Case]) -> Vec<Outcome> {
    let scratch = std::env::temp_dir().join(format!("cineflix-grade-{}", std::process::id()));
    let mut outcomes = Vec::new();
    for private in [Private::Three, Private::Four, Private::Lossy] {
        let mine: Vec<&Case> = cases.iter().filter(|case| Private::for_needs(case.needs) == private).collect();
        if mine.is_empty() {
            continue;
        }
        let dir = scratch.join(format!("{private:?}").to_lowercase());
        match start_private(&args.config_dir, private, &dir) {
            Ok((deployment, cluster)) => {
                eprintln!("grade: {private:?} deployment at {}", deployment.endpoint());
                match Target::new(&deployment.endpoint(), Some(deployment.config.clone()), global) {
                    Ok(mut target) => {
                        target.attach_cluster(cluster);
                        let shape = target.shape();
                        outcomes.extend(run_cases(&mut target, &mine, |needs| target_lacks(shape, needs)));
                        let number = 1 + outcomes.iter().filter(|outcome| outcome.group == "cleanup").count();
                        outcomes.push(cleanup(&mut target, number, private.describe()));
                        target.stop_cluster(STOP_GRACE);
                    }
                    Err(message) => outcomes.extend(failed_all(&mine, &format!("no client: {message}"))),
                }
            }
            Err(message) => {
                outcomes.extend(failed_all(&mine, &format!("the private deployment did not start: {message}")))
            }
        }
    }
    if outcomes.iter().all(|outcome| outcome.verdict != Verdict::Fail) {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        eprintln!("grade: the private deployments' logs are kept in {}", scratch.display());
    }
    outcomes
}

fn failed_all(cases: &[&Case], why: &str) -> Vec<Outcome> {
    cases
        .iter()
        .map(|case| Outcome {
            id: case.id.to_owned(),
            group: case.group.name(),
            scenario: case.scenario.to_owned(),
            expected: case.expected.to_owned(),
            observed: why.to_owned(),
            verdict: Verdict::Fail,
            duration_ms: 0,
            codes: case.codes.iter().map(|code| code.as_str()).collect(),
            deployment: String::new(),
        })
        .collect()
}

fn start_private(
    config_dir: &Path,
    private: Private,
    dir: &Path,
) -> Result<(cluster::PrivateDeployment, cluster::Cluster), String> {
    let template: PathBuf = config_dir.join(private.template());
    let mut deployment =
        cluster::PrivateDeployment::from_template(&template, dir).map_err(|error| format!("{error:#}"))?;
    if private == Private::Lossy {
        deployment.config.faults.drop = LOSSY_RATE;
        deployment.config.faults.duplicate = LOSSY_RATE;
        deployment.config.faults.reorder = LOSSY_RATE;
    }
    let cluster = deployment.start(START_WAIT).map_err(|error| format!("{error:#}"))?;
    Ok((deployment, cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_unique_and_every_result_code_has_a_case() {
        let cases = all_cases();
        let mut ids: Vec<&str> = cases.iter().map(|case| case.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "duplicate case ids");
        for code in ResultCode::ALL {
            assert!(cases.iter().any(|case| case.codes.contains(&code)), "no case observes {}", code.as_str());
        }
    }

    #[test]
    fn needs_are_explained_when_unmet() {
        let bare = Shape { control_plane: false, replicas: 0, lossy: false };
        assert_eq!(target_lacks(bare, Needs::Service), None);
        assert!(target_lacks(bare, Needs::ControlPlane).unwrap().contains("--config"));
        let three = Shape { control_plane: true, replicas: 3, lossy: false };
        assert_eq!(target_lacks(three, Needs::ControlPlane), None);
        assert!(target_lacks(three, Needs::FourReplicas).unwrap().contains("4 replicas"));
        assert!(target_lacks(three, Needs::LossyLinks).unwrap().contains("[faults]"));
        let four_lossy = Shape { control_plane: true, replicas: 4, lossy: true };
        assert_eq!(target_lacks(four_lossy, Needs::FourReplicas), None);
        assert_eq!(target_lacks(four_lossy, Needs::LossyLinks), None);
    }

    #[test]
    fn only_matches_id_group_or_scenario() {
        let cases = all_cases();
        let first = &cases[0];
        assert!(selected(first, None));
        assert!(selected(first, Some(&first.id.to_lowercase())));
        assert!(selected(first, Some("FUNCTIONAL")));
        assert!(!selected(first, Some("no case is called this")));
    }
}
