//! The front end's vote and failure detector, as a pure state machine.
//!
//! For every request the front end opens a *round* keyed by its request ID. Replica results arrive as canonical
//! byte strings (booking's `Response::encode`); the voter decides the answer, tells which replicas were wrong, and
//! which have not answered in time. It is driven like the other cores of CineFlix: input in
//! ([`Voter::open`], [`Voter::result`], [`Voter::handle_timeout`]), output out ([`Voter::poll_event`],
//! [`Voter::poll_timeout`]), time passed in as milliseconds. It deliberately owns no socket, no timer and no
//! clock; the front end shell does the I/O and forwards [`Event`]s to clients and replica managers.
//!
//! Rules (replication.md, "Voting and failure detection at the front end"):
//! - Software-failure mode answers once `f + 1` identical results arrive; crash mode answers with the first.
//! - A result that differs from the agreed one is *wrong*; [`Event::Wrong`] carries the replica's count of
//!   consecutive wrong results, which a correct result resets. Reaching `wrong_limit` (3) asks for replacement.
//! - A replica whose result has not arrived `2 ×` the slowest result time seen (over the last `latency_window`
//!   results, never less than `suspect_floor_ms`) after the round opened is [`Event::Suspected`] of a crash.
//! - No agreeing majority within `request_timeout_ms`, or none possible any more: [`Event::Unavailable`], never a
//!   guess.

use std::collections::{BTreeMap, VecDeque};

/// A replica's identity (its replica manager's id in the configuration).
pub type ReplicaId = u16;

/// Which failures the vote tolerates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer once `faulty_max + 1` identical results arrive.
    Software,
    /// Answer with the first result.
    Crash,
}

/// Static settings of a voter.
#[derive(Clone, Debug)]
pub struct VoterConfig {
    /// Every replica that votes.
    pub replicas: Vec<ReplicaId>,
    pub mode: Mode,
    /// `f`: how many replicas may answer wrongly at once; an answer needs `f + 1` identical results.
    pub faulty_max: usize,
    /// Consecutive wrong results after which a replica must be replaced.
    pub wrong_limit: u32,
    /// Lower bound of the crash-suspicion deadline.
    pub suspect_floor_ms: u64,
    /// How many recent result times "the slowest result time seen" is taken over.
    pub latency_window: usize,
    /// A round without an agreed answer after this long is answered with [`Event::Unavailable`].
    pub request_timeout_ms: u64,
}

impl VoterConfig {
    /// The usual settings for `replicas` in software-failure mode with `f = 1`.
    pub fn software(replicas: Vec<ReplicaId>) -> VoterConfig {
        VoterConfig {
            replicas,
            mode: Mode::Software,
            faulty_max: 1,
            wrong_limit: 3,
            suspect_floor_ms: 50,
            latency_window: 1024,
            request_timeout_ms: 5_000,
        }
    }

    fn quorum(&self) -> usize {
        match self.mode {
            Mode::Software => self.faulty_max + 1,
            Mode::Crash => 1,
        }
    }
}

/// What the front end must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Answer the client of round `round` with `result`.
    Decided { round: u64, result: Vec<u8> },
    /// No agreeing majority: answer the client of `round` with a "service unavailable" fault.
    Unavailable { round: u64 },
    /// `replica`'s result for `round` differs from the agreed one. Report to every replica manager;
    /// `consecutive >= wrong_limit` means the replica must be replaced.
    Wrong { round: u64, replica: ReplicaId, consecutive: u32 },
    /// `replica` has not answered `round` within the suspicion deadline. Report to every replica manager.
    Suspected { round: u64, replica: ReplicaId },
}

#[derive(Debug)]
struct Round {
    opened_ms: u64,
    /// Results in arrival order.
    results: Vec<(ReplicaId, Vec<u8>)>,
    decided: Option<Vec<u8>>,
    /// Replicas excluded when the round opened (being replaced) neither vote nor get suspected.
    expected: Vec<ReplicaId>,
}

#[derive(Debug, Default, Clone)]
struct ReplicaRecord {
    consecutive_wrong: u32,
    excluded: bool,
}

/// The vote and failure detector of one front end.
#[derive(Debug)]
pub struct Voter {
    config: VoterConfig,
    rounds: BTreeMap<u64, Round>,
    replicas: BTreeMap<ReplicaId, ReplicaRecord>,
    /// Recent result times (ms from round open to arrival), a ring of `latency_window` entries.
    latencies_ms: VecDeque<u64>,
    events: VecDeque<Event>,
}

impl Voter {
    pub fn new(config: VoterConfig) -> Voter {
        assert!(!config.replicas.is_empty(), "a voter needs replicas");
        assert!(config.latency_window > 0, "latency_window must be positive");
        assert!(config.quorum() <= config.replicas.len(), "quorum larger than the number of replicas");
        let replicas = config.replicas.iter().map(|&id| (id, ReplicaRecord::default())).collect();
        Voter { config, rounds: BTreeMap::new(), replicas, latencies_ms: VecDeque::new(), events: VecDeque::new() }
    }

    pub fn config(&self) -> &VoterConfig {
        &self.config
    }

    /// Opens a round for a request the front end has just submitted.
    pub fn open(&mut self, round: u64, now_ms: u64) {
        let expected = self.replicas.iter().filter(|(_, r)| !r.excluded).map(|(&id, _)| id).collect();
        let previous =
            self.rounds.insert(round, Round { opened_ms: now_ms, results: Vec::new(), decided: None, expected });
        assert!(previous.is_none(), "round {round} opened twice");
    }

    /// Takes a replica out of the vote while it is being replaced, or puts it back (with a clean record).
    pub fn set_excluded(&mut self, replica: ReplicaId, excluded: bool) {
        if let Some(record) = self.replicas.get_mut(&replica) {
            *record = ReplicaRecord { consecutive_wrong: 0, excluded };
        }
        if excluded {
            // Open rounds stop waiting for it; a round it was the last one missing from closes now.
            let rounds: Vec<u64> = self.rounds.keys().copied().collect();
            for round in rounds {
                if let Some(state) = self.rounds.get_mut(&round) {
                    state.expected.retain(|id| *id != replica);
                    state.results.retain(|(id, _)| *id != replica);
                }
                self.close_if_complete(round);
            }
        }
    }

    /// The replica's current count of consecutive wrong results.
    pub fn consecutive_wrong(&self, replica: ReplicaId) -> u32 {
        self.replicas.get(&replica).map_or(0, |r| r.consecutive_wrong)
    }

    /// Rounds still open (undecided, or decided and waiting for late results).
    pub fn open_rounds(&self) -> usize {
        self.rounds.len()
    }

    /// The suspicion deadline offset: twice the slowest recent result time, at least the floor.
    pub fn suspect_after_ms(&self) -> u64 {
        let slowest = self.latencies_ms.iter().copied().max().unwrap_or(0);
        (2 * slowest).max(self.config.suspect_floor_ms)
    }

    /// Records `replica`'s result for `round`. Unknown rounds (already closed) and repeated results are ignored:
    /// the transport may duplicate.
    pub fn result(&mut self, round: u64, replica: ReplicaId, result: &[u8], now_ms: u64) {
        let Some(state) = self.rounds.get_mut(&round) else { return };
        if !state.expected.contains(&replica) || state.results.iter().any(|(id, _)| *id == replica) {
            return;
        }
        let latency_ms = now_ms.saturating_sub(state.opened_ms);
        if self.latencies_ms.len() == self.config.latency_window {
            self.latencies_ms.pop_front();
        }
        self.latencies_ms.push_back(latency_ms);
        state.results.push((replica, result.to_vec()));

        match state.decided.as_ref().map(|agreed| agreed.as_slice() == result) {
            Some(correct) => self.judge(round, replica, correct),
            None => self.try_decide(round),
        }
        self.close_if_complete(round);
    }

    fn try_decide(&mut self, round: u64) {
        let quorum = self.config.quorum();
        let state = self.rounds.get_mut(&round).expect("round exists");
        let agreed = state
            .results
            .iter()
            .map(|(_, bytes)| bytes)
            .find(|candidate| state.results.iter().filter(|(_, other)| other == *candidate).count() >= quorum)
            .cloned();
        match agreed {
            Some(agreed) => {
                self.events.push_back(Event::Decided { round, result: agreed.clone() });
                let verdicts: Vec<(ReplicaId, bool)> =
                    state.results.iter().map(|(replica, bytes)| (*replica, *bytes == agreed)).collect();
                state.decided = Some(agreed);
                for (replica, correct) in verdicts {
                    self.judge(round, replica, correct);
                }
            }
            None => {
                // Give up early when no value can reach the quorum any more, even if everyone still missing answers.
                let missing = state.expected.len() - state.results.len();
                let best = state
                    .results
                    .iter()
                    .map(|(_, candidate)| state.results.iter().filter(|(_, other)| other == candidate).count())
                    .max()
                    .unwrap_or(0);
                if best + missing < quorum {
                    self.events.push_back(Event::Unavailable { round });
                    self.rounds.remove(&round);
                }
            }
        }
    }

    fn judge(&mut self, round: u64, replica: ReplicaId, correct: bool) {
        let record = self.replicas.get_mut(&replica).expect("results come only from configured replicas");
        if correct {
            record.consecutive_wrong = 0;
            return;
        }
        record.consecutive_wrong += 1;
        let consecutive = record.consecutive_wrong;
        self.events.push_back(Event::Wrong { round, replica, consecutive });
        if consecutive >= self.config.wrong_limit {
            // It will be replaced: it leaves the vote now, and its replacement comes back with a clean record.
            self.set_excluded(replica, true);
        }
    }

    fn close_if_complete(&mut self, round: u64) {
        if let Some(state) = self.rounds.get(&round)
            && state.decided.is_some()
            && state.results.len() == state.expected.len()
        {
            self.rounds.remove(&round);
        }
    }

    /// The earliest time at which [`Voter::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        let suspect_after_ms = self.suspect_after_ms();
        self.rounds
            .values()
            .map(|state| {
                // An undecided round waits for agreement until the request timeout; suspicion of its missing
                // replicas is reported when it closes. Promising an earlier deadline would make the shell spin.
                if state.decided.is_some() {
                    state.opened_ms + suspect_after_ms
                } else {
                    state.opened_ms + self.config.request_timeout_ms
                }
            })
            .min()
    }

    /// Fires the deadlines that have passed at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let suspect_after_ms = self.suspect_after_ms();
        let request_timeout_ms = self.config.request_timeout_ms;
        let mut closed = Vec::new();
        for (&round, state) in &mut self.rounds {
            let suspect_due = now_ms >= state.opened_ms + suspect_after_ms;
            let request_due = now_ms >= state.opened_ms + request_timeout_ms;
            if state.decided.is_none() && !request_due {
                continue; // still hoping for agreement; suspicion is reported when the round closes
            }
            if state.decided.is_some() && !suspect_due {
                continue;
            }
            if state.decided.is_none() {
                self.events.push_back(Event::Unavailable { round });
            }
            for &replica in &state.expected {
                if !state.results.iter().any(|(id, _)| *id == replica) {
                    self.events.push_back(Event::Suspected { round, replica });
                }
            }
            closed.push(round);
        }
        for round in closed {
            self.rounds.remove(&round);
        }
    }

    /// The next thing the front end must do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
