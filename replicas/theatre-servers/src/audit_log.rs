//! A theatre server's log file: one line per request it served as the caller's home theatre (booking.md, "Logs").
//!
//! Line format (fields separated by single spaces, string parameters quoted and escaped so a line stays one line):
//! ```text
//! <job time in the theatres' zone> wall=<wall-clock UTC> job=<id> op=<operation> user="<caller>" <param>=<value>…
//!     result=success|failure code=<CODE> answer=<compact answer>
//! ```
//! Writes are buffered and flushed by the owner (periodically and at shutdown), never synced per request: the log is
//! for auditors, not for recovery. It deliberately never influences an answer: a write error is reported once and
//! otherwise ignored.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use booking::{Body, Operation, Request, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Buffered writer of one theatre server's log file.
#[derive(Debug)]
pub struct AuditLog {
    writer: BufWriter<File>,
    path: PathBuf,
    zone: TimeZone,
    /// Reused for every line, so logging allocates nothing in the steady state. Bytes, not a `String`: the line
    /// is built from `str`s and ASCII only, and pushing bytes skips the UTF-8 encoding of every character.
    line: Vec<u8>,
    /// The last formatted seconds of both times on a line (see [`LineTimes`]).
    times: LineTimes,
    /// Set after the first write error so that a full disk is reported once, not per request.
    failed: bool,
}

impl AuditLog {
    /// Opens (creating directories as needed) the file in append mode.
    pub fn open(path: &Path, zone: TimeZone) -> io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            writer: BufWriter::with_capacity(64 * 1024, file),
            path: path.to_path_buf(),
            zone,
            line: Vec::with_capacity(256),
            times: LineTimes::default(),
            failed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the line for one executed job.
    pub fn record(&mut self, job_id: u64, timestamp_ms: i64, request: &Request, response: &Response) {
        self.line.clear();
        let wall = Timestamp::now();
        self.times.format(&mut self.line, &self.zone, wall, job_id, timestamp_ms, request, response);
        self.line.push(b'\n');
        if let Err(error) = self.writer.write_all(&self.line) {
            self.report(error);
        }
    }

    /// Appends a free-form line (start-up, shutdown, counters), prefixed with the wall-clock time.
    pub fn note(&mut self, text: &str) {
        let line = format!("{} note {}\n", Timestamp::now(), text);
        if let Err(error) = self.writer.write_all(line.as_bytes()) {
            self.report(error);
        }
    }

    pub fn flush(&mut self) {
        if let Err(error) = self.writer.flush() {
            self.report(error);
        }
    }

    fn report(&mut self, error: io::Error) {
        if !self.failed {
            self.failed = true;
            tracing::error!(path = %self.path.display(), %error, "cannot write the theatre log; continuing without it");
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Formats one log line (without the newline) into `out`.
pub fn format_line(
    out: &mut String,
    zone: &TimeZone,
    wall: Timestamp,
    job_id: u64,
    timestamp_ms: i64,
    request: &Request,
    response: &Response,
) {
    let mut line = Vec::new();
    LineTimes::default().format(&mut line, zone, wall, job_id, timestamp_ms, request, response);
    out.push_str(std::str::from_utf8(&line).expect("a line is built from strings"));
}

/// The two times of a line, formatted by whole seconds and remembered: at thousands of lines a second nearly every
/// line falls in the same second as the one before, and formatting a zoned time with `strftime` cost more than the
/// rest of the line. Only the milliseconds are written per line. A zone's offset changes only at whole seconds, so
/// a second's text, offset included, is the same for every millisecond in it.
#[derive(Debug, Default)]
struct LineTimes {
    /// Job time in the theatres' zone: `YYYY-MM-DDTHH:MM:SS` and `±HH:MM`.
    job: Option<CachedSecond>,
    /// Wall clock in UTC: `YYYY-MM-DDTHH:MM:SS` and `Z`.
    wall: Option<CachedSecond>,
}

/// The part of a time before its milliseconds.
const WHOLE_SECOND: &str = "%Y-%m-%dT%H:%M:%S";

/// One Unix second's text before and after its milliseconds.
#[derive(Debug)]
struct CachedSecond {
    second: i64,
    before: String,
    after: String,
}

/// Appends `<before>.<millisecond><after>` for `at_ms`, formatting the whole second (`render` gives before and
/// after) only when it is not the one `cache` holds: the date and offset can only change at whole seconds.
fn push_time(
    out: &mut Vec<u8>,
    cache: &mut Option<CachedSecond>,
    at_ms: i64,
    render: impl FnOnce(Timestamp) -> (String, String),
) {
    let (second, millisecond) = (at_ms.div_euclid(1000), at_ms.rem_euclid(1000));
    if cache.as_ref().is_none_or(|cached| cached.second != second) {
        let (before, after) = render(Timestamp::from_second(second).expect("within range: the millisecond is"));
        *cache = Some(CachedSecond { second, before, after });
    }
    let cached = cache.as_ref().expect("filled above");
    out.extend_from_slice(cached.before.as_bytes());
    out.push(b'.');
    push_three_digits(out, millisecond as u16);
    out.extend_from_slice(cached.after.as_bytes());
}

impl LineTimes {
    #[allow(clippy::too_many_arguments)]
    fn format(
        &mut self,
        out: &mut Vec<u8>,
        zone: &TimeZone,
        wall: Timestamp,
        job_id: u64,
        timestamp_ms: i64,
        request: &Request,
        response: &Response,
    ) {
        if Timestamp::from_millisecond(timestamp_ms).is_ok() {
            push_time(out, &mut self.job, timestamp_ms, |whole_second| {
                let zoned = whole_second.to_zoned(zone.clone());
                (zoned.strftime(WHOLE_SECOND).to_string(), zoned.strftime("%:z").to_string())
            });
        } else {
            // `write!` into a Vec cannot fail.
            let _ = write!(out, "ts_ms={timestamp_ms}");
        }
        out.extend_from_slice(b" wall=");
        push_time(out, &mut self.wall, wall.as_millisecond(), |whole_second| {
            (whole_second.strftime(WHOLE_SECOND).to_string(), "Z".to_owned())
        });
        format_rest(out, job_id, request, response);
    }
}

/// Everything on a line after the two times.
///
/// Written with plain pushes rather than `write!`: this runs for every job, and the formatting machinery (padding,
/// `Debug` escaping, one virtual call per piece) cost about a quarter of the replica's user-space instructions. The
/// bytes are exactly those of the `write!` version, kept in the tests as the reference
/// (`tests::reference_rest`), which every change here must still match.
fn format_rest(out: &mut Vec<u8>, job_id: u64, request: &Request, response: &Response) {
    out.extend_from_slice(b" job=");
    push_int(out, job_id);
    out.extend_from_slice(b" op=");
    out.extend_from_slice(request.operation.name().as_bytes());
    out.extend_from_slice(b" user=");
    push_debug_str(out, &request.user_id);
    match &request.operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
            push_field(out, " movie_id=", movie_id);
            push_field(out, " movie_name=", movie_name);
            out.extend_from_slice(b" booking_capacity=");
            push_int(out, *booking_capacity);
        }
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            push_field(out, " movie_id=", movie_id);
            push_field(out, " movie_name=", movie_name);
        }
        Operation::ListMovieShowsAvailability { movie_name } => {
            push_field(out, " movie_name=", movie_name);
        }
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
        | Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            push_field(out, " customer_id=", customer_id);
            push_field(out, " movie_id=", movie_id);
            push_field(out, " movie_name=", movie_name);
            out.extend_from_slice(b" number_of_tickets=");
            push_int(out, *number_of_tickets);
        }
        Operation::GetBookingSchedule { customer_id } => {
            push_field(out, " customer_id=", customer_id);
        }
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => {
            push_field(out, " customer_id=", customer_id);
            push_field(out, " movie_id=", movie_id);
            push_field(out, " movie_name=", movie_name);
            push_field(out, " new_movie_id=", new_movie_id);
            push_field(out, " new_movie_name=", new_movie_name);
            out.extend_from_slice(b" number_of_tickets=");
            push_int(out, *number_of_tickets);
        }
    }
    out.extend_from_slice(
        if response.success() { " result=success code=" } else { " result=failure code=" }.as_bytes(),
    );
    out.extend_from_slice(response.code.as_str().as_bytes());
    out.extend_from_slice(b" answer=");
    format_answer(out, &response.body);
}

/// The answer body, compact: `-` for none, else `[item,item,…]`.
fn format_answer(out: &mut Vec<u8>, body: &Body) {
    match body {
        Body::Empty => out.push(b'-'),
        Body::Shows(shows) => push_list(out, b"shows[", shows, |out, show| {
            out.extend_from_slice(&show.movie_id.to_ascii());
            out.push(b':');
            out.extend_from_slice(show.movie.as_str().as_bytes());
            out.push(b':');
            push_int(out, show.available);
            out.push(b'/');
            push_int(out, show.capacity);
        }),
        Body::Schedule(entries) => push_list(out, b"schedule[", entries, |out, entry| {
            out.extend_from_slice(&entry.movie_id.to_ascii());
            out.push(b':');
            out.extend_from_slice(entry.movie.as_str().as_bytes());
            out.push(b':');
            push_int(out, entry.tickets);
        }),
        Body::Removed(moved) => push_list(out, b"moved[", moved, |out, booking| {
            push_debug_str(out, &booking.customer_id);
            out.push(b':');
            push_int(out, booking.tickets);
            out.extend_from_slice(b"->");
            match booking.new_movie_id {
                Some(movie_id) => out.extend_from_slice(&movie_id.to_ascii()),
                None => out.extend_from_slice(b"cancelled"),
            }
        }),
    }
}

/// `open`, then each item written by `item`, comma-separated, then `]`.
fn push_list<T>(out: &mut Vec<u8>, open: &[u8], items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    out.extend_from_slice(open);
    for (index, value) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        item(out, value);
    }
    out.push(b']');
}

/// `name` then the value quoted as `{:?}` quotes it.
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    push_debug_str(out, value);
}

/// Exactly `write!(out, "{value:?}")`: the common case (printable ASCII without quote or backslash) needs no
/// escaping and is copied; anything else goes through `Debug` itself.
fn push_debug_str(out: &mut Vec<u8>, value: &str) {
    if value.bytes().all(|byte| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\') {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{value:?}");
    }
}

/// `{:03}` of a value below 1000.
fn push_three_digits(out: &mut Vec<u8>, value: u16) {
    debug_assert!(value < 1000);
    out.extend_from_slice(&[b'0' + (value / 100) as u8, b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8]);
}

/// `{}` of an integer (`itoa`: the same digits, without the formatting machinery).
fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{Movie, MovieId, ResultCode, Show};
    use std::fmt::Write as _;

    #[test]
    fn a_line_has_times_job_operation_parameters_outcome_and_answer() {
        let zone = booking::time::montreal();
        let wall: Timestamp = "2026-11-21T15:00:00.5Z".parse().unwrap();
        // 2026-11-21T15:15:00Z is 10:15 in Montreal (EST).
        let job_ms = "2026-11-21T15:15:00.250Z".parse::<Timestamp>().unwrap().as_millisecond();
        let request = Request {
            user_id: "atwc0001".into(),
            operation: Operation::ListMovieShowsAvailability { movie_name: "avatar \"x\"\n".into() },
        };
        let response = Response::ok(Body::Shows(vec![Show {
            movie_id: MovieId::parse("ATWE281126").unwrap(),
            movie: Movie::Avatar,
            capacity: 50,
            available: 48,
        }]));
        let mut line = String::new();
        format_line(&mut line, &zone, wall, 17, job_ms, &request, &response);
        assert_eq!(
            line,
            "2026-11-21T10:15:00.250-05:00 wall=2026-11-21T15:00:00.500Z job=17 op=listMovieShowsAvailability \
             user=\"atwc0001\" movie_name=\"avatar \\\"x\\\"\\n\" result=success code=OK \
             answer=shows[ATWE281126:Avatar:48/50]"
        );
        line.clear();
        format_line(&mut line, &zone, wall, 18, i64::MAX, &request, &Response::rejected(ResultCode::SoldOut));
        assert!(line.starts_with(&format!("ts_ms={} ", i64::MAX)), "{line}");
        assert!(line.ends_with("result=failure code=SOLD_OUT answer=-"), "{line}");
    }

    /// The remembered seconds must give exactly what formatting each time in full gives: across a daylight-saving
    /// change (2026-11-01 06:00Z, Montreal), before 1970, and with a line in the same second as the one before.
    #[test]
    fn remembered_seconds_format_like_full_times() {
        let zone = booking::time::montreal();
        let request = Request {
            user_id: "ATWC0001".into(),
            operation: Operation::GetBookingSchedule { customer_id: "ATWC0001".into() },
        };
        let response = Response::rejected(ResultCode::SoldOut);
        let dst_change_ms = "2026-11-01T06:00:00Z".parse::<Timestamp>().unwrap().as_millisecond();
        let mut job_times = vec![-1_500, -1_000, -1, 0, 999, 1_000];
        for delta_ms in [-3_600_001, -1_001, -1_000, -999, -1, 0, 1, 999, 1_000, 3_600_000] {
            job_times.push(dst_change_ms + delta_ms);
        }
        let mut times = LineTimes::default();
        for (index, &job_ms) in job_times.iter().enumerate() {
            for wall_ms in [job_ms + 250, job_ms + 999, job_ms + 1_000] {
                let wall = Timestamp::from_millisecond(wall_ms).unwrap();
                let mut cached = Vec::new();
                times.format(&mut cached, &zone, wall, index as u64, job_ms, &request, &response);
                let cached = String::from_utf8(cached).unwrap();
                let job_time = Timestamp::from_millisecond(job_ms).unwrap();
                let full = format!(
                    "{} wall={wall:.3} job={index} op=getBookingSchedule user=\"ATWC0001\" customer_id=\"ATWC0001\" \
                     result=failure code=SOLD_OUT answer=-",
                    job_time.to_zoned(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                );
                assert_eq!(cached, full, "job_ms={job_ms} wall_ms={wall_ms}");
            }
        }
    }

    /// The `write!` formatting this module used before it wrote lines by hand: the byte-exact reference.
    fn reference_rest(out: &mut String, job_id: u64, request: &Request, response: &Response) {
        let _ = write!(out, " job={job_id} op={} user={:?}", request.operation.name(), request.user_id);
        match &request.operation {
            Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
                let _ =
                    write!(out, " movie_id={movie_id:?} movie_name={movie_name:?} booking_capacity={booking_capacity}");
            }
            Operation::RemoveMovieSlots { movie_id, movie_name } => {
                let _ = write!(out, " movie_id={movie_id:?} movie_name={movie_name:?}");
            }
            Operation::ListMovieShowsAvailability { movie_name } => {
                let _ = write!(out, " movie_name={movie_name:?}");
            }
            Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
            | Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
                let _ = write!(
                    out,
                    " customer_id={customer_id:?} movie_id={movie_id:?} movie_name={movie_name:?} \
                     number_of_tickets={number_of_tickets}"
                );
            }
            Operation::GetBookingSchedule { customer_id } => {
                let _ = write!(out, " customer_id={customer_id:?}");
            }
            Operation::ExchangeTickets {
                customer_id,
                movie_id,
                movie_name,
                new_movie_id,
                new_movie_name,
                number_of_tickets,
            } => {
                let _ = write!(
                    out,
                    " customer_id={customer_id:?} movie_id={movie_id:?} movie_name={movie_name:?} \
                     new_movie_id={new_movie_id:?} new_movie_name={new_movie_name:?} \
                     number_of_tickets={number_of_tickets}"
                );
            }
        }
        let outcome = if response.success() { "success" } else { "failure" };
        let _ = write!(out, " result={outcome} code={} answer=", response.code.as_str());
        match &response.body {
            Body::Empty => out.push('-'),
            Body::Shows(shows) => {
                out.push_str("shows[");
                for (index, show) in shows.iter().enumerate() {
                    let comma = if index > 0 { "," } else { "" };
                    let _ = write!(out, "{comma}{}:{}:{}/{}", show.movie_id, show.movie, show.available, show.capacity);
                }
                out.push(']');
            }
            Body::Schedule(entries) => {
                out.push_str("schedule[");
                for (index, entry) in entries.iter().enumerate() {
                    let comma = if index > 0 { "," } else { "" };
                    let _ = write!(out, "{comma}{}:{}:{}", entry.movie_id, entry.movie, entry.tickets);
                }
                out.push(']');
            }
            Body::Removed(moved) => {
                out.push_str("moved[");
                for (index, booking) in moved.iter().enumerate() {
                    let comma = if index > 0 { "," } else { "" };
                    let _ = write!(out, "{comma}{:?}:{}->", booking.customer_id, booking.tickets);
                    match booking.new_movie_id {
                        Some(movie_id) => {
                            let _ = write!(out, "{movie_id}");
                        }
                        None => out.push_str("cancelled"),
                    }
                }
                out.push(']');
            }
        }
    }

    /// The hand-written line rest gives exactly the bytes of the `write!` reference: every operation and body
    /// kind, strings that need `Debug` escaping (quotes, backslashes, control characters, non-ASCII, a combining
    /// mark), extreme numbers, and movie IDs of every theatre, letter and a spread of dates (years before 2000
    /// and 2000-something, single-digit days and months).
    #[test]
    fn hand_written_rest_matches_the_write_reference() {
        use booking::{Date, MovedBooking, MovieId, ScheduleEntry, SlotLetter, TheatreCode};
        let texts = [
            "ATWC0001",
            "",
            "avatar",
            "a \"quoted\" name",
            "back\\slash",
            "tab\there",
            "new\nline",
            "cr\r",
            "nul\0",
            "bell\u{7}",
            "del\u{7f}",
            "é café",
            "e\u{301}",
            "\u{200b}zero-width",
            "emoji 🎬",
            "'single'",
            "~tilde ` grave",
        ];
        let numbers = [0, 1, -1, 9, 10, 99, 100, 10_000, i32::MAX, i32::MIN];
        let mut movie_ids = Vec::new();
        for (index, date) in ["1999-01-05", "2000-12-31", "2026-11-23", "2009-10-01", "2100-02-28"].iter().enumerate() {
            let date = Date(date.parse().unwrap());
            movie_ids.push(MovieId {
                theatre: TheatreCode::ALL[index % 3],
                slot: SlotLetter::ALL[(index + 1) % 3],
                date,
            });
        }
        let mut requests = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let other = texts[(index + 5) % texts.len()].to_string();
            let text = text.to_string();
            let number = numbers[index % numbers.len()];
            for operation in [
                Operation::AddMovieSlots {
                    movie_id: text.clone(),
                    movie_name: other.clone(),
                    booking_capacity: number,
                },
                Operation::RemoveMovieSlots { movie_id: other.clone(), movie_name: text.clone() },
                Operation::ListMovieShowsAvailability { movie_name: text.clone() },
                Operation::BookMovieTickets {
                    customer_id: text.clone(),
                    movie_id: other.clone(),
                    movie_name: text.clone(),
                    number_of_tickets: number,
                },
                Operation::GetBookingSchedule { customer_id: text.clone() },
                Operation::CancelMovieTickets {
                    customer_id: other.clone(),
                    movie_id: text.clone(),
                    movie_name: other.clone(),
                    number_of_tickets: number.wrapping_neg(),
                },
                Operation::ExchangeTickets {
                    customer_id: text.clone(),
                    movie_id: other.clone(),
                    movie_name: text.clone(),
                    new_movie_id: other.clone(),
                    new_movie_name: text.clone(),
                    number_of_tickets: number,
                },
            ] {
                requests.push(Request { user_id: other.clone(), operation });
            }
        }
        let shows = movie_ids
            .iter()
            .enumerate()
            .map(|(index, &movie_id)| Show {
                movie_id,
                movie: Movie::ALL[index % 3],
                capacity: [0, 7, 10_000, u32::MAX][index % 4],
                available: [0, 1, 99, u32::MAX - 1][(index + 1) % 4],
            })
            .collect::<Vec<_>>();
        let schedule = movie_ids
            .iter()
            .enumerate()
            .map(|(index, &movie_id)| ScheduleEntry {
                movie_id,
                movie: Movie::ALL[index % 3],
                tickets: index as u32 * 977,
            })
            .collect::<Vec<_>>();
        let moved = texts
            .iter()
            .enumerate()
            .map(|(index, text)| MovedBooking {
                customer_id: text.to_string(),
                tickets: [1, 0, 12_345, u32::MAX][index % 4],
                new_movie_id: (index % 2 == 0).then(|| movie_ids[index % movie_ids.len()]),
            })
            .collect::<Vec<_>>();
        let responses = [
            Response::rejected(ResultCode::SoldOut),
            Response::ok(Body::Empty),
            Response::ok(Body::Shows(Vec::new())),
            Response::ok(Body::Shows(shows[..1].to_vec())),
            Response::ok(Body::Shows(shows)),
            Response::ok(Body::Schedule(Vec::new())),
            Response::ok(Body::Schedule(schedule)),
            Response::ok(Body::Removed(Vec::new())),
            Response::ok(Body::Removed(moved)),
        ];
        let mut checked = 0;
        for (index, request) in requests.iter().enumerate() {
            for response in &responses {
                let job_id = [0, 1, 9, 10, 1_234_567, u64::MAX][index % 6];
                let (mut fast, mut reference) = (b"prefix".to_vec(), String::from("prefix"));
                format_rest(&mut fast, job_id, request, response);
                reference_rest(&mut reference, job_id, request, response);
                let fast = String::from_utf8(fast).expect("a line is UTF-8");
                assert_eq!(fast, reference);
                checked += 1;
            }
        }
        assert_eq!(checked, texts.len() * 7 * responses.len());
    }
}
