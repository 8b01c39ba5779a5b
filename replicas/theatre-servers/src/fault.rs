//! Injected replica faults (replication.md, "Fault injection"): what a lying replica answers instead of the truth,
//! and the countdown of a replica set to crash.
//!
//! Deliberately not here: acting on a fault (the control task exits, delays or substitutes answers) or choosing one
//! (the command line and the replica manager do). A liar's state stays correct; only its answers are wrong, so
//! that the vote, not a diverging state, is what exposes it.

use booking::{Body, Response, ResultCode};
use replica_api::Fault;

/// Exit status of a replica that crashed on purpose (`Fault::CrashAfter`), so a supervisor's log can tell an
/// injected crash from a real one.
pub const INJECTED_CRASH_EXIT_CODE: i32 = 86;

/// The fault in force and, for `CrashAfter`, how many more jobs run before the crash; for `LieNext`, how many more
/// answers are lies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultState {
    fault: Fault,
    /// `CrashAfter`: jobs still to execute before exiting. `LieNext`: lies still to tell.
    crash_in_jobs: u64,
}

impl FaultState {
    pub fn new(fault: Fault) -> FaultState {
        let crash_in_jobs = match fault {
            Fault::CrashAfter { requests } => requests,
            Fault::LieNext { jobs } => jobs,
            _ => 0,
        };
        // `LieNext { jobs: 0 }` lies about nothing: it is `None` from the start.
        let fault = if fault == (Fault::LieNext { jobs: 0 }) { Fault::None } else { fault };
        FaultState { fault, crash_in_jobs }
    }

    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// A crash is due now (`CrashAfter` whose count ran out, `CrashAfter { requests: 0 }` at once).
    pub fn crash_due(&self) -> bool {
        matches!(self.fault, Fault::CrashAfter { .. }) && self.crash_in_jobs == 0
    }

    /// Counts one executed job. A `LieNext` whose lies are all told becomes `None`.
    pub fn job_executed(&mut self) {
        self.crash_in_jobs = self.crash_in_jobs.saturating_sub(1);
        if matches!(self.fault, Fault::LieNext { .. }) && self.crash_in_jobs == 0 {
            self.fault = Fault::None;
        }
    }

    /// `Slow`: how long to hold back each `Executed` answer.
    pub fn answer_delay_ms(&self) -> u64 {
        match self.fault {
            Fault::Slow { delay_ms } => delay_ms,
            _ => 0,
        }
    }

    /// The answer to the job being executed must be a lie (`Lie`, or `LieNext` with lies left).
    pub fn lies(&self) -> bool {
        matches!(self.fault, Fault::Lie | Fault::LieNext { .. })
    }
}

/// A plausible answer that differs from `truth`: a changed ticket count or availability where the answer has
/// numbers, otherwise a flipped outcome (success claimed as a rejection, a rejection claimed as a success).
/// `job_id` picks which number and by how much, so the lie is reproducible for a given job.
pub fn lie(truth: &Response, job_id: u64) -> Response {
    let pick = mix(job_id);
    let delta = 1 + (pick >> 32) as u32 % 3;
    let mut lie = truth.clone();
    let changed = match &mut lie.body {
        Body::Shows(shows) if !shows.is_empty() => {
            let index = pick as usize % shows.len();
            let show = &mut shows[index];
            show.available = bump(show.available, delta);
            true
        }
        Body::Schedule(entries) if !entries.is_empty() => {
            let index = pick as usize % entries.len();
            let entry = &mut entries[index];
            entry.tickets = bump(entry.tickets, delta);
            true
        }
        Body::Removed(moved) if !moved.is_empty() => {
            let index = pick as usize % moved.len();
            let booking = &mut moved[index];
            booking.tickets = bump(booking.tickets, delta);
            true
        }
        _ => false,
    };
    if !changed {
        lie = if truth.code.is_ok() {
            const REJECTIONS: [ResultCode; 3] = [ResultCode::SoldOut, ResultCode::SlotNotFound, ResultCode::NoBooking];
            Response::rejected(REJECTIONS[pick as usize % REJECTIONS.len()])
        } else {
            Response::ok(Body::Empty)
        };
    }
    assert_ne!(&lie, truth, "a lie must differ from the truth");
    lie
}

/// A different count that stays plausible: up by `delta`, or down when going up would overflow.
fn bump(count: u32, delta: u32) -> u32 {
    count.checked_add(delta).unwrap_or_else(|| count - delta)
}

/// SplitMix64: spreads consecutive job ids over the whole range.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{Replica, Request};

    /// Every answer of a realistic workload, lied about for many job ids, stays decodable and always differs.
    #[test]
    fn lies_are_plausible_and_always_differ() {
        let mut replica = Replica::new();
        let now_ms = 1_795_453_200_000; // Monday 23 Nov 2026, noon in Montreal
        let texts = [
            ("ATWA0001", "add ATWE281126 Avatar 50"),
            ("ATWC0001", "book ATWE281126 Avatar 3"),
            ("ATWC0001", "schedule"),
            ("ATWC0002", "list Avatar"),
            ("ATWC0001", "cancel ATWE281126 Avatar 9"),
            ("ATWA0001", "remove ATWE281126 Avatar"),
        ];
        let mut answers = Vec::new();
        for (user, text) in texts {
            let Some(request) = sample_request(user, text) else { continue };
            answers.push(replica.execute(&request, now_ms));
        }
        let kinds: Vec<&str> = answers
            .iter()
            .map(|answer| match &answer.body {
                Body::Shows(shows) if !shows.is_empty() => "shows",
                Body::Schedule(entries) if !entries.is_empty() => "schedule",
                Body::Removed(moved) if !moved.is_empty() => "removed",
                _ => "other",
            })
            .collect();
        for kind in ["shows", "schedule", "removed"] {
            assert!(kinds.contains(&kind), "the sample answers have no non-empty {kind}: {answers:?}");
        }
        answers.push(Response::ok(Body::Empty));
        answers.push(Response::rejected(ResultCode::SoldOut));
        for truth in &answers {
            for job_id in 0..64 {
                let lie = lie(truth, job_id);
                assert_ne!(lie.encode(), truth.encode());
                assert_eq!(Response::decode(&lie.encode()).as_ref(), Ok(&lie), "a lie still decodes");
            }
        }
    }

    /// Builds a request from a short command, using booking's own request type.
    fn sample_request(user: &str, text: &str) -> Option<Request> {
        use booking::Operation;
        let words: Vec<&str> = text.split(' ').collect();
        let operation = match words.as_slice() {
            ["add", id, name, capacity] => Operation::AddMovieSlots {
                movie_id: (*id).into(),
                movie_name: (*name).into(),
                booking_capacity: capacity.parse().ok()?,
            },
            ["book", id, name, tickets] => Operation::BookMovieTickets {
                customer_id: user.into(),
                movie_id: (*id).into(),
                movie_name: (*name).into(),
                number_of_tickets: tickets.parse().ok()?,
            },
            ["cancel", id, name, tickets] => Operation::CancelMovieTickets {
                customer_id: user.into(),
                movie_id: (*id).into(),
                movie_name: (*name).into(),
                number_of_tickets: tickets.parse().ok()?,
            },
            ["schedule"] => Operation::GetBookingSchedule { customer_id: user.into() },
            ["list", name] => Operation::ListMovieShowsAvailability { movie_name: (*name).into() },
            ["remove", id, name] => Operation::RemoveMovieSlots { movie_id: (*id).into(), movie_name: (*name).into() },
            _ => return None,
        };
        Some(Request { user_id: user.into(), operation })
    }

    #[test]
    fn crash_countdown_and_delays() {
        let mut state = FaultState::new(Fault::CrashAfter { requests: 2 });
        assert!(!state.crash_due());
        state.job_executed();
        assert!(!state.crash_due());
        state.job_executed();
        assert!(state.crash_due());
        assert!(FaultState::new(Fault::CrashAfter { requests: 0 }).crash_due());
        assert!(!FaultState::new(Fault::None).crash_due());
        assert_eq!(FaultState::new(Fault::Slow { delay_ms: 40 }).answer_delay_ms(), 40);
        assert!(FaultState::new(Fault::Lie).lies());
    }

    #[test]
    fn lie_next_lies_exactly_that_many_times_then_behaves() {
        for jobs in [0, 1, 3] {
            let mut state = FaultState::new(Fault::LieNext { jobs });
            let mut lies = 0;
            for _ in 0..10 {
                if state.lies() {
                    lies += 1;
                }
                state.job_executed();
            }
            assert_eq!(lies, jobs, "lie-next={jobs}");
            assert_eq!(state.fault(), Fault::None);
            assert!(!state.crash_due());
        }
    }
}
