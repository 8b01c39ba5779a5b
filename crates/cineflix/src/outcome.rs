//! What one client action produced, and its three renderings: readable text (result line
//! and aligned tables), one JSON object (`--json`), and one log-file entry. Also the exit
//! code policy.
//!
//! This module does no I/O: callers print and log the strings it returns. It formats the
//! booking types itself (from their public fields) rather than relying on their `Display`,
//! so that the client's output format is decided here, in one place.

use crate::client::CallError;
use crate::json::Json;
use booking::{Body, Movie, MovieId, Operation, Request, SlotLetter};

/// Exit code: the service answered success=true.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code: the service answered with a domain rejection (success=false).
pub const EXIT_REJECTED: u8 = 1;
/// Exit code: SOAP fault, HTTP error, transport error or timeout.
pub const EXIT_FAULT: u8 = 2;
/// Exit code: the command line was wrong; nothing was sent (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

/// One request and what became of it.
#[derive(Debug)]
pub struct Outcome {
    pub request: Request,
    pub result: Result<soap::ClientResponse, CallError>,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match &self.result {
            Ok(answer) if answer.response.success() => EXIT_SUCCESS,
            Ok(_) => EXIT_REJECTED,
            Err(_) => EXIT_FAULT,
        }
    }

    /// Text for stdout (answers) and stderr (faults and errors).
    pub fn render_text(&self) -> (String, String) {
        match &self.result {
            Err(error) => (String::new(), format!("cineflix: {}: {error}\n", self.request.operation.name())),
            Ok(answer) => {
                let response = &answer.response;
                let mark = if response.success() { '✓' } else { '✗' };
                let mut out = format!("{mark} {}: {}\n", response.code.as_str(), answer.message);
                if response.success() {
                    out.push_str(&body_table(&response.body));
                }
                (out, String::new())
            }
        }
    }

    /// One JSON object describing the request and its answer or error.
    pub fn render_json(&self) -> String {
        let mut object = Json::object()
            .with("operation", self.request.operation.name())
            .with("userID", self.request.user_id.as_str())
            .with("request", request_json(&self.request));
        match &self.result {
            Ok(answer) => {
                let response = &answer.response;
                object = object
                    .with("success", response.success())
                    .with("code", response.code.as_str())
                    .with("message", answer.message.as_str());
                match &response.body {
                    Body::Empty => {}
                    Body::Shows(shows) => {
                        let shows = shows
                            .iter()
                            .map(|show| {
                                movie_id_json(&show.movie_id)
                                    .with("movieName", movie_name(show.movie))
                                    .with("capacity", show.capacity)
                                    .with("available", show.available)
                            })
                            .collect::<Vec<_>>();
                        object = object.with("shows", shows);
                    }
                    Body::Schedule(entries) => {
                        let entries = entries
                            .iter()
                            .map(|entry| {
                                movie_id_json(&entry.movie_id)
                                    .with("movieName", movie_name(entry.movie))
                                    .with("tickets", entry.tickets)
                            })
                            .collect::<Vec<_>>();
                        object = object.with("bookings", entries);
                    }
                    Body::Removed(moved) => {
                        let moved = moved
                            .iter()
                            .map(|booking| {
                                Json::object()
                                    .with("customerID", booking.customer_id.as_str())
                                    .with("tickets", booking.tickets)
                                    .with("newMovieID", booking.new_movie_id.as_ref().map(movie_id_text))
                                    .with("cancelled", booking.new_movie_id.is_none())
                            })
                            .collect::<Vec<_>>();
                        object = object.with("movedBookings", moved);
                    }
                }
            }
            Err(error) => {
                let mut detail = Json::object().with("kind", error.kind());
                if let CallError::Fault { code, .. } = error {
                    detail = detail.with("code", code.as_str());
                }
                if let CallError::Http { status, .. } = error {
                    detail = detail.with("status", u32::from(*status));
                }
                object = object.with("error", detail.with("message", error.to_string()));
            }
        }
        let mut text = object.render();
        text.push('\n');
        text
    }

    /// The answer part of a log entry, on one line.
    pub fn log_answer(&self) -> String {
        match &self.result {
            Err(error) => format!("ERROR {error}"),
            Ok(answer) => {
                let response = &answer.response;
                let verdict = if response.success() { "success" } else { "failure" };
                let mut line = format!("{verdict} {} {:?}", response.code.as_str(), answer.message);
                let items: Vec<String> = match &response.body {
                    Body::Empty => Vec::new(),
                    Body::Shows(shows) => shows
                        .iter()
                        .map(|show| {
                            format!(
                                "{} {} {}/{}",
                                movie_id_text(&show.movie_id),
                                movie_name(show.movie),
                                show.available,
                                show.capacity
                            )
                        })
                        .collect(),
                    Body::Schedule(entries) => entries
                        .iter()
                        .map(|entry| {
                            format!("{} {} x{}", movie_id_text(&entry.movie_id), movie_name(entry.movie), entry.tickets)
                        })
                        .collect(),
                    Body::Removed(moved) => moved
                        .iter()
                        .map(|booking| match &booking.new_movie_id {
                            Some(id) => {
                                format!("{} x{} -> {}", booking.customer_id, booking.tickets, movie_id_text(id))
                            }
                            None => format!("{} x{} cancelled", booking.customer_id, booking.tickets),
                        })
                        .collect(),
                };
                if !items.is_empty() {
                    line.push_str(&format!(" [{}]", items.join("; ")));
                }
                line
            }
        }
    }
}

/// The request's operation and parameters on one line, for logs.
pub fn describe_request(request: &Request) -> String {
    let fields = request_fields(&request.operation);
    let mut line = request.operation.name().to_owned();
    for (name, value) in fields {
        line.push_str(&format!(" {name}={value}"));
    }
    line
}

/// The operation's parameters by contract element name, in contract order.
fn request_fields(operation: &Operation) -> Vec<(&'static str, String)> {
    match operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => vec![
            ("movieID", movie_id.clone()),
            ("movieName", movie_name.clone()),
            ("bookingCapacity", booking_capacity.to_string()),
        ],
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            vec![("movieID", movie_id.clone()), ("movieName", movie_name.clone())]
        }
        Operation::ListMovieShowsAvailability { movie_name } => vec![("movieName", movie_name.clone())],
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
        | Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => vec![
            ("customerID", customer_id.clone()),
            ("movieID", movie_id.clone()),
            ("movieName", movie_name.clone()),
            ("numberOfTickets", number_of_tickets.to_string()),
        ],
        Operation::GetBookingSchedule { customer_id } => vec![("customerID", customer_id.clone())],
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => {
            vec![
                ("customerID", customer_id.clone()),
                ("movieID", movie_id.clone()),
                ("movieName", movie_name.clone()),
                ("newMovieID", new_movie_id.clone()),
                ("newMovieName", new_movie_name.clone()),
                ("numberOfTickets", number_of_tickets.to_string()),
            ]
        }
    }
}

fn request_json(request: &Request) -> Json {
    let mut object = Json::object().with("userID", request.user_id.as_str());
    for (name, value) in request_fields(&request.operation) {
        // Numbers stay numbers in JSON.
        object = match value.parse::<i64>() {
            Ok(number) if matches!(name, "bookingCapacity" | "numberOfTickets") => object.with(name, Json::Int(number)),
            _ => object.with(name, value),
        };
    }
    object
}

fn movie_id_json(movie_id: &MovieId) -> Json {
    Json::object()
        .with("movieID", movie_id_text(movie_id))
        .with("theatre", movie_id.theatre.as_str())
        .with("date", date_text(movie_id))
        .with("slot", slot_name(movie_id.slot))
}

/// The rendered table for a successful answer's body (empty for bodiless answers).
fn body_table(body: &Body) -> String {
    match body {
        Body::Empty => String::new(),
        Body::Shows(shows) if shows.is_empty() => "(no shows)\n".to_owned(),
        Body::Shows(shows) => table(
            &[
                ("MOVIE ID", false),
                ("MOVIE", false),
                ("THEATRE", false),
                ("DATE", false),
                ("SLOT", false),
                ("CAPACITY", true),
                ("AVAILABLE", true),
            ],
            shows
                .iter()
                .map(|show| {
                    vec![
                        movie_id_text(&show.movie_id),
                        movie_name(show.movie).to_owned(),
                        show.movie_id.theatre.as_str().to_owned(),
                        date_text(&show.movie_id),
                        slot_name(show.movie_id.slot).to_owned(),
                        show.capacity.to_string(),
                        show.available.to_string(),
                    ]
                })
                .collect(),
        ),
        Body::Schedule(entries) if entries.is_empty() => "(no bookings)\n".to_owned(),
        Body::Schedule(entries) => table(
            &[
                ("MOVIE ID", false),
                ("MOVIE", false),
                ("THEATRE", false),
                ("DATE", false),
                ("SLOT", false),
                ("TICKETS", true),
            ],
            entries
                .iter()
                .map(|entry| {
                    vec![
                        movie_id_text(&entry.movie_id),
                        movie_name(entry.movie).to_owned(),
                        entry.movie_id.theatre.as_str().to_owned(),
                        date_text(&entry.movie_id),
                        slot_name(entry.movie_id.slot).to_owned(),
                        entry.tickets.to_string(),
                    ]
                })
                .collect(),
        ),
        Body::Removed(moved) if moved.is_empty() => "(no bookings were affected)\n".to_owned(),
        Body::Removed(moved) => table(
            &[("CUSTOMER", false), ("TICKETS", true), ("OUTCOME", false)],
            moved
                .iter()
                .map(|booking| {
                    let outcome = match &booking.new_movie_id {
                        Some(id) => format!("moved to {}", movie_id_text(id)),
                        None => "cancelled".to_owned(),
                    };
                    vec![booking.customer_id.clone(), booking.tickets.to_string(), outcome]
                })
                .collect(),
        ),
    }
}

/// Aligned columns separated by two spaces; `true` in a header right-aligns that column.
pub fn table(headers: &[(&str, bool)], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|(name, _)| name.chars().count()).collect();
    for row in &rows {
        assert_eq!(row.len(), headers.len(), "every table row has one cell per column");
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|(name, _)| (*name).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(&rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            let padding = " ".repeat(widths[column] - cell.chars().count());
            if headers[column].1 {
                line.push_str(&padding);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&padding);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn movie_name(movie: Movie) -> &'static str {
    match movie {
        Movie::Avatar => "Avatar",
        Movie::Avengers => "Avengers",
        Movie::Titanic => "Titanic",
    }
}

pub fn slot_name(slot: SlotLetter) -> &'static str {
    match slot {
        SlotLetter::Morning => "MORNING",
        SlotLetter::Afternoon => "AFTERNOON",
        SlotLetter::Evening => "EVENING",
    }
}

pub fn slot_letter(slot: SlotLetter) -> char {
    match slot {
        SlotLetter::Morning => 'M',
        SlotLetter::Afternoon => 'A',
        SlotLetter::Evening => 'E',
    }
}

/// Canonical movie ID text, e.g. `ATWM281126`.
pub fn movie_id_text(movie_id: &MovieId) -> String {
    let date = movie_id.date.0;
    format!(
        "{}{}{:02}{:02}{:02}",
        movie_id.theatre.as_str(),
        slot_letter(movie_id.slot),
        date.day(),
        date.month(),
        date.year().rem_euclid(100)
    )
}

/// ISO date of the show, e.g. `2026-11-28`.
fn date_text(movie_id: &MovieId) -> String {
    let date = movie_id.date.0;
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{Date, ResultCode, Show, TheatreCode};

    fn movie_id(theatre: TheatreCode, slot: SlotLetter, day: i8) -> MovieId {
        MovieId { theatre, slot, date: Date(jiff::civil::date(2026, 11, day)) }
    }

    fn list_request() -> Request {
        Request {
            user_id: "ATWC0001".to_owned(),
            operation: Operation::ListMovieShowsAvailability { movie_name: "avatar".to_owned() },
        }
    }

    #[test]
    fn tables_align() {
        let text = table(
            &[("NAME", false), ("N", true)],
            vec![vec!["a".to_owned(), "1".to_owned()], vec!["longer".to_owned(), "1000".to_owned()]],
        );
        assert_eq!(text, "NAME       N\na          1\nlonger  1000\n");
    }

    #[test]
    fn listing_renders_as_table_json_and_log() {
        let shows = vec![
            Show {
                movie_id: movie_id(TheatreCode::Atw, SlotLetter::Morning, 5),
                movie: Movie::Avatar,
                capacity: 50,
                available: 48,
            },
            Show {
                movie_id: movie_id(TheatreCode::Ver, SlotLetter::Evening, 28),
                movie: Movie::Avatar,
                capacity: 7,
                available: 7,
            },
        ];
        let outcome = Outcome {
            request: list_request(),
            result: Ok(soap::ClientResponse {
                response: booking::Response::ok(Body::Shows(shows)),
                message: "2 shows".to_owned(),
            }),
        };
        assert_eq!(outcome.exit_code(), EXIT_SUCCESS);
        let (out, err) = outcome.render_text();
        assert_eq!(err, "");
        assert_eq!(
            out,
            "✓ OK: 2 shows\n\
             MOVIE ID    MOVIE   THEATRE  DATE        SLOT     CAPACITY  AVAILABLE\n\
             ATWM051126  Avatar  ATW      2026-11-05  MORNING        50         48\n\
             VERE281126  Avatar  VER      2026-11-28  EVENING         7          7\n"
        );
        let json = outcome.render_json();
        assert!(json.starts_with(r#"{"operation":"listMovieShowsAvailability","userID":"ATWC0001","#), "{json}");
        assert!(json.contains(r#""success":true,"code":"OK","message":"2 shows","shows":[{"movieID":"ATWM051126","theatre":"ATW","date":"2026-11-05","slot":"MORNING","movieName":"Avatar","capacity":50,"available":48},"#), "{json}");
        assert_eq!(outcome.log_answer(), r#"success OK "2 shows" [ATWM051126 Avatar 48/50; VERE281126 Avatar 7/7]"#);
    }

    #[test]
    fn rejections_and_errors_map_to_exit_codes() {
        let rejected = Outcome {
            request: list_request(),
            result: Ok(soap::ClientResponse {
                response: booking::Response::rejected(ResultCode::UnknownMovie),
                message: "no such movie".to_owned(),
            }),
        };
        assert_eq!(rejected.exit_code(), EXIT_REJECTED);
        assert_eq!(rejected.render_text().0, "✗ UNKNOWN_MOVIE: no such movie\n");

        let fault = Outcome {
            request: list_request(),
            result: Err(CallError::Fault { code: "SERVICE_UNAVAILABLE".to_owned(), message: "no majority".to_owned() }),
        };
        assert_eq!(fault.exit_code(), EXIT_FAULT);
        let (out, err) = fault.render_text();
        assert_eq!(out, "");
        assert_eq!(err, "cineflix: listMovieShowsAvailability: SOAP fault SERVICE_UNAVAILABLE: no majority\n");
        assert!(fault.render_json().contains(r#""error":{"kind":"fault","code":"SERVICE_UNAVAILABLE","message":"#));
    }

    #[test]
    fn requests_describe_themselves() {
        let request = Request {
            user_id: "ATWA0001".to_owned(),
            operation: Operation::ExchangeTickets {
                customer_id: "ATWC0002".to_owned(),
                movie_id: "ATWM281126".to_owned(),
                movie_name: "Avatar".to_owned(),
                new_movie_id: "ATWE281126".to_owned(),
                new_movie_name: "Titanic".to_owned(),
                number_of_tickets: 2,
            },
        };
        assert_eq!(
            describe_request(&request),
            "exchangeTickets customerID=ATWC0002 movieID=ATWM281126 movieName=Avatar newMovieID=ATWE281126 \
             newMovieName=Titanic numberOfTickets=2"
        );
        assert!(request_json(&request).render().ends_with(r#""newMovieName":"Titanic","numberOfTickets":2}"#));
    }
}
