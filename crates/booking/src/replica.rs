//! The three theatres of one replica in one value: for simulations, tests, and the
//! canonical replica snapshot and digest.
//!
//! [`Replica`] implements [`Peers`] by calling [`Theatre::handle`] directly (ready
//! futures), so [`Replica::execute`] drives the coordinator to completion in one poll.
//! The replica program, whose theatres live in separate servers, uses the free functions
//! [`replica_snapshot`] and [`replica_digest`] on the three theatre snapshots instead and
//! gets the same bytes and digest.
//!
//! It deliberately does no I/O and reads no clock: the sequencer's timestamp is an
//! argument and the time zone is configuration.
//!
//! # Snapshot format, version 1
//! ```text
//! b"CFRP", u8 version = 1, then for ATW, OUT, VER in that order:
//!   u32 length, that theatre's snapshot (see `theatre`)
//! ```
//! The digest is SHA-256 of these bytes.

use crate::api::{Request, Response};
use crate::codec::{DecodeError, FORMAT_VERSION, Reader};
use crate::coordinator;
use crate::ids::TheatreCode;
use crate::peer::{PeerRequest, PeerResponse, Peers};
use crate::theatre::Theatre;
use crate::time;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

const SNAPSHOT_MAGIC: &[u8; 4] = b"CFRP";

/// One full copy of the booking service: the three theatres and the time zone "today"
/// is computed in.
#[derive(Clone, Debug)]
pub struct Replica {
    /// Indexed by `TheatreCode::index`.
    theatres: [Theatre; 3],
    zone: TimeZone,
}

impl Default for Replica {
    fn default() -> Replica {
        Replica::new()
    }
}

impl PartialEq for Replica {
    /// Equal booking state (the time zone is configuration, not state).
    fn eq(&self, other: &Replica) -> bool {
        self.theatres == other.theatres
    }
}

impl Replica {
    /// Three empty theatres, Montreal time.
    pub fn new() -> Replica {
        Replica { theatres: TheatreCode::ALL.map(Theatre::new), zone: time::montreal() }
    }

    /// The same replica computing "today" in `zone`.
    pub fn with_time_zone(mut self, zone: TimeZone) -> Replica {
        self.zone = zone;
        self
    }

    /// Replica from three theatres (in any order; each goes to its own place).
    pub fn from_theatres(theatres: [Theatre; 3]) -> Replica {
        let mut replica = Replica::new();
        for theatre in theatres {
            let index = theatre.code().index();
            replica.theatres[index] = theatre;
        }
        replica
    }

    pub fn theatre(&self, code: TheatreCode) -> &Theatre {
        &self.theatres[code.index()]
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// Executes one ordered request stamped by the sequencer at `timestamp_ms` (Unix ms).
    pub fn execute(&mut self, request: &Request, timestamp_ms: i64) -> Response {
        let today = time::today(timestamp_ms, &self.zone);
        // Malformed caller IDs are answered without peer calls; any theatre will do.
        let home = coordinator::home_theatre(request).unwrap_or(TheatreCode::Atw);
        let mut future = pin!(coordinator::execute(home, self, request, today));
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(response) => response,
            Poll::Pending => unreachable!("the coordinator awaits only ready in-process peer calls"),
        }
    }

    /// Checks every theatre's invariants and the cross-theatre rules: no customer holds
    /// more than 3 outside-home slots in a week, nor one show in two theatres.
    pub fn check_invariants(&self) -> Result<(), String> {
        use std::collections::BTreeMap;
        for theatre in &self.theatres {
            theatre.check_invariants()?;
        }
        let mut outside_per_week: BTreeMap<_, u32> = BTreeMap::new();
        let mut shows: BTreeMap<_, TheatreCode> = BTreeMap::new();
        for booking in self.theatres.iter().flat_map(Theatre::bookings) {
            let slot = booking.slot;
            if slot.theatre() != booking.customer.theatre {
                let count = outside_per_week.entry((booking.customer, slot.date().iso_week())).or_default();
                *count += 1;
                if *count > crate::theatre::OUTSIDE_SLOTS_PER_WEEK_MAX {
                    return Err(format!("{} holds more than 3 outside slots in a week", booking.customer));
                }
            }
            let show = (booking.customer, slot.movie, slot.movie_id.date, slot.movie_id.slot);
            if let Some(other) = shows.insert(show, slot.theatre())
                && other != slot.theatre()
            {
                return Err(format!("{} holds {} in {} and {}", booking.customer, slot, other, slot.theatre()));
            }
        }
        Ok(())
    }

    /// The canonical replica snapshot (module doc).
    pub fn snapshot(&self) -> Vec<u8> {
        let [atw, out, ver] = &self.theatres;
        replica_snapshot([&atw.snapshot(), &out.snapshot(), &ver.snapshot()])
    }

    /// Rebuilds a replica (Montreal time; see [`Replica::with_time_zone`]).
    pub fn restore(bytes: &[u8]) -> Result<Replica, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.take(4)? != SNAPSHOT_MAGIC {
            return Err(DecodeError::Invalid("not a replica snapshot"));
        }
        reader.version()?;
        let mut replica = Replica::new();
        for code in TheatreCode::ALL {
            let len = reader.u32()? as usize;
            let theatre = Theatre::restore(reader.take(len)?)?;
            if theatre.code() != code {
                return Err(DecodeError::Invalid("replica snapshot has theatres out of order"));
            }
            replica.theatres[code.index()] = theatre;
        }
        reader.finish()?;
        Ok(replica)
    }

    /// SHA-256 of the canonical snapshot.
    pub fn digest(&self) -> [u8; 32] {
        let [atw, out, ver] = &self.theatres;
        replica_digest([&atw.snapshot(), &out.snapshot(), &ver.snapshot()])
    }
}

impl Peers for Replica {
    fn call(&mut self, to: TheatreCode, request: PeerRequest) -> impl Future<Output = PeerResponse> {
        std::future::ready(self.theatres[to.index()].handle(request))
    }
}

/// Frames the three theatre snapshots (ATW, OUT, VER) into the replica snapshot.
pub fn replica_snapshot(theatre_snapshots: [&[u8]; 3]) -> Vec<u8> {
    let len: usize = theatre_snapshots.iter().map(|snapshot| snapshot.len() + 4).sum();
    let mut out = Vec::with_capacity(5 + len);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.push(FORMAT_VERSION);
    for snapshot in theatre_snapshots {
        let frame_len = u32::try_from(snapshot.len()).expect("a theatre snapshot exceeds 4 GiB");
        out.extend_from_slice(&frame_len.to_be_bytes());
        out.extend_from_slice(snapshot);
    }
    out
}

/// The replica digest from the three theatre snapshots (ATW, OUT, VER): SHA-256 of
/// [`replica_snapshot`], computed without building it.
pub fn replica_digest(theatre_snapshots: [&[u8]; 3]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SNAPSHOT_MAGIC);
    hasher.update([FORMAT_VERSION]);
    for snapshot in theatre_snapshots {
        let frame_len = u32::try_from(snapshot.len()).expect("a theatre snapshot exceeds 4 GiB");
        hasher.update(frame_len.to_be_bytes());
        hasher.update(snapshot);
    }
    hasher.finalize().into()
}
