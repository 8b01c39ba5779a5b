//! The replica manager (RM) as a pure state machine, with the messages RMs and front ends exchange and their codec.
//!
//! One `Manager` per replica (n = 3 by default, n = 4 supported). It feeds the ordered stream to its replica in
//! seq order, sends the replica's results to the front end, and repairs its replica: after `wrong_limit` (3)
//! consecutive wrong results, or after a majority of RMs agree the replica crashed, it kills the replica, starts a
//! fresh one, restores a snapshot two healthy replicas agree on, replays the entries after it, and puts the replica
//! back in the vote. The other replicas keep serving meanwhile.
//!
//! Deliberately not here: sockets, processes, clocks and the ordering member. Like the `ordering` roles it is driven
//! by method calls with time passed in (`handle_*`, `handle_timeout(now_ms)`), and says what the runtime must do
//! through a closed `Command` enum drained with `poll_command`; `poll_timeout` says when to call `handle_timeout`.
//!
//! # Protocol
//!
//! **Feeding (go-back-N, job id = seq).** Delivered entries queue in seq order; the RM sends `Execute` batches
//! within a window above the replica's reported `next_expected` and feeds again from there when no progress comes
//! within `job_retry_ms`. Each result is sent to the submitting front end once (tagged with the replica's
//! incarnation), and only while the replica is in the vote; it is sent again only when the front end asks (see
//! "Lost results"). The queue is bounded (`buffer_max`): when it is full the shell leaves entries in the ordering
//! member, which back-pressures the sequencer.
//!
//! **Lost results.** Two hops can lose a result. Replica → RM: executed jobs whose result did not come back are
//! asked for again every `job_retry_ms` (the replica answers from its result cache, never executing twice). RM →
//! front end: the RM keeps the last `result_cache_max` results it sent (per front end and `request_id`); a front
//! end whose round is still undecided after its resend interval sends `ResendResult{front_end, request_id}` to the
//! RMs whose result it lacks, repeating every interval until the round ends, and each answers from that cache (a
//! result not there, because the job has not been executed yet, is sent when it is; an evicted one is not sent).
//! A re-sent result is byte-identical to the first; the voter ignores a replica's second result for a round. The
//! cache is cleared when the replica is replaced: results of a replaced incarnation are dropped by front ends.
//!
//! ```text
//!  FE                              RM2
//!  │ ◀── Result{r2, seq, id} ──╳ lost
//!  │ (round undecided after the resend interval)
//!  │ ── ResendResult{fe, id} ─────▶ │ cache hit
//!  │ ◀── Result{r2, seq, id} ────── │ (same bytes)
//! ```
//!
//! **Wrong results.** Front ends send `Report::Wrong{replica_id, seq, consecutive}` to every RM. Everyone records
//! it; the replica's own RM replaces it when `consecutive >= wrong_limit` and `seq` belongs to the current
//! incarnation. The count (reset by a correct result) is the front end's, so wrong-right-wrong-wrong never replaces.
//!
//! **Crash agreement.** A `Report::Suspected{r}` from a front end, or a dead `Verdict` about `r` from another RM,
//! makes every RM check `r` (`Command::Probe`, dead if unanswered within `probe_timeout_ms`; at most one probe per
//! `recheck_interval_ms`) and send its `Verdict{suspect: r, incarnation, alive}` to every other RM. The incarnation
//! is the one the checker believes `r` has; every RM message carries its sender's own incarnation, so beliefs catch
//! up. `r`'s own RM counts, among its own verdict and those received, the fresh ones (`verdict_ttl_ms`) that name
//! `r`'s *current* incarnation; when at least `n / 2 + 1` say dead it replaces `r`. Its own observation of the
//! process exiting is its verdict (dead, repeated every `verdict_retry_ms`), and makes the others check too; a
//! verdict about an earlier incarnation never counts against a fresh replica. A *fresh* replica that dies during
//! recovery is not in the vote and is restarted without agreement.
//!
//! ```text
//!  FE           RM1 (owner of r1)           RM2                    RM3
//!  │ Suspected{r1} ─▶│ ──────────────────────▶│ ──────────────────────▶│
//!  │                 │ Probe r1 (own)          │ Probe r1               │ Probe r1
//!  │                 │◀── Verdict{r1,inc 1,dead}│                       │
//!  │                 │◀─────────────────────────────── Verdict{r1,inc 1,dead}
//!  │                 │ 2 of 3 dead at inc 1: replace
//!  │◀ Membership{r1, inc 2, out}  KillReplica{1}, StartReplica{2}
//! ```
//!
//! **State transfer.** Replacing: incarnation + 1, `Membership{in_vote: false}` to the front ends, kill, start.
//! When the fresh replica is up the RM picks a snapshot point `S` = the highest seq it has delivered, and sends
//! `SnapshotRequest{S}` to every other RM. A donor (an RM whose replica is serving) that has not fed its replica
//! past `S` pauses feeding at `S`, takes its replica's snapshot exactly after `S` (`TakeSnapshot`), resumes, and
//! sends `Snapshot{S, digest, bytes}`; one already fed past `S` answers `SnapshotTooLate{S, fed_up_to}`, and the
//! recovering RM moves `S` past it (plus a margin that doubles). Requests are retried every `snapshot_retry_ms`;
//! a point nobody can serve follows the stream. The recovering RM keeps every delivered entry after its first
//! point (entries at or below the final `S` are dropped), checks that each snapshot's bytes hash to its digest
//! (SHA-256, booking's replica digest), and restores (`Restore{S}`) once two donors sent the same digest at the same
//! `S`. It then feeds `S + 1 ..`, and when its replica is within `rejoin_lag_seqs` of the delivered stream it sends
//! `Membership{in_vote: true}` and its results count again from the next seq.
//!
//! ```text
//!  RM1 (recovering)                      RM2 (donor)                       replica 2
//!  │ SnapshotRequest{S} ───────────────▶ │ feed ..=S, pause                 │
//!  │                                     │ ── TakeSnapshot{S} ────────────▶ │
//!  │                                     │ ◀───────────────── snapshot(S) ──│
//!  │ ◀──────── Snapshot{S, digest, bytes} │ resume feeding S+1..            │
//!  │ (RM3 sends the same digest at S)  → Restore{S}, feed S+1.., rejoin the vote
//! ```
//!
//! **Two replicas down at once (the sole-donor rule).** A manager whose replica is not serving answers a
//! `SnapshotRequest` with `SnapshotUnavailable{S}` instead of silence. A recovering manager restores from a *single*
//! donor's snapshot only when (1) it holds exactly one verified snapshot at `S`, (2) every other manager answered
//! `SnapshotUnavailable{S}` in the current request round (answers are forgotten each `snapshot_retry_ms` round, so
//! a manager whose replica rejoined is not taken for unavailable on an old answer; silence never counts), and (3)
//! `sole_donor_wait_ms` has passed since its fresh replica came up (a manager now catching up may rejoin and become
//! the second donor). With n = 3 this is exactly "the other two are both being replaced"; with n = 4 it needs three
//! down, so whenever two serving donors exist the two-digest rule still decides. It is logged as
//! `Audit::SoleDonorRestore` and counted in `ManagerStats::sole_donor_restores`.
//!
//! Why it cannot install wrong state: the second digest guards against a donor whose *state* is wrong, and no
//! fault of this system produces one. Crashes and hangs leave no donor at all; a lying replica lies only in its
//! `Executed` answers, never in its state, snapshot or digest (`theatre-servers`' `fault` module: the lie is made
//! from the correct response after execution); a snapshot damaged in transit fails its SHA-256 check. So the one
//! serving replica's snapshot is the state every correct replica has at `S`, and replaying the ordered entries after
//! `S` is deterministic. What the rule gives up is defence in depth against an undetected state-corrupting bug in
//! the single survivor, which with two of three replicas gone nothing in the cluster could check anyway. Meanwhile
//! clients get SERVICE_UNAVAILABLE faults (fewer than f + 1 replicas vote), never a guess; operators see both
//! recovering managers in phase `fetching` for at least `sole_donor_wait_ms`, then `restoring`, `catching-up` and
//! `serving`, and a `sole_donor_restore` line in the RM's audit log.

mod codec;
mod manager;
mod message;

pub use codec::{DecodeError, MAGIC, VERSION};
pub use manager::{Audit, Command, Job, Manager, ManagerConfig, ManagerStats, ReplaceReason, ReplicaPhase};
pub use message::{Membership, Message, PeerBody, PeerMessage, ReplicaId, Report, ResendResult, ResultMessage};
