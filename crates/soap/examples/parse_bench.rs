//! Micro-benchmark of the hot path: parse_request and render_response on typical envelopes, plus the
//! client side (parse_response, and parse_response_code as the load generator reads answers). Run with
//! `cargo run -p soap --release --example parse_bench [iterations] [filter]`; with a filter only the
//! cases whose label contains it run (e.g. `parse_response (18` under callgrind, whose instruction
//! counts are steady on a busy machine where µs are not).
//!
//! A rough figure for one machine, not a statistically careful benchmark (no warm-up analysis, no
//! outlier handling); it exists to notice regressions of an order of magnitude.

use std::hint::black_box;
use std::time::Instant;

use booking::{Body, Date, Movie, MovieId, Request, Response, ScheduleEntry, Show, SlotLetter, TheatreCode};
use soap::{
    SoapVersion, build_request, parse_request, parse_response, parse_response_code, render_response_with_message,
};

/// What zeep sends for bookMovieTickets (SOAP 1.1), about 0.5 KB.
const ZEEP_REQUEST: &str = concat!(
    "<?xml version='1.0' encoding='utf-8'?>\n",
    r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>"#,
    r#"<ns0:bookMovieTickets xmlns:ns0="urn:cineflix:booking:v1"><ns0:userID>ATWC0001</ns0:userID>"#,
    "<ns0:customerID>ATWC0001</ns0:customerID><ns0:movieID>ATWE281126</ns0:movieID>",
    "<ns0:movieName>Avatar</ns0:movieName><ns0:numberOfTickets>2</ns0:numberOfTickets>",
    "</ns0:bookMovieTickets></soap-env:Body></soap-env:Envelope>"
);

fn time(filter: &str, label: &str, iterations: u32, bytes: usize, mut work: impl FnMut()) {
    if !label.contains(filter) {
        return;
    }
    for _ in 0..iterations / 10 {
        work();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        work();
    }
    let per_op_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!("{label:<46} {bytes:>6} B  {per_op_us:>8.2} µs/op");
}

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(200_000);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let filter = filter.as_str();
    let parsed = parse_request(ZEEP_REQUEST.as_bytes()).expect("the benchmark envelope parses");
    let request: Request = parsed.request.clone();

    time(filter, "parse_request (zeep bookMovieTickets)", iterations, ZEEP_REQUEST.len(), || {
        black_box(parse_request(black_box(ZEEP_REQUEST.as_bytes())).is_ok());
    });

    let ok = Response::ok(Body::Empty);
    let message = "Booked 2 tickets of Avatar at ATWE281126 for ATWC0001.";
    let rendered = render_response_with_message(SoapVersion::V11, &request, &ok, message);
    time(filter, "render_response (result only)", iterations, rendered.len(), || {
        black_box(render_response_with_message(SoapVersion::V11, black_box(&request), &ok, message));
    });

    let listing_request = Request {
        user_id: "ATWC0001".into(),
        operation: booking::Operation::ListMovieShowsAvailability { movie_name: "Avatar".into() },
    };
    let shows = |count: usize| -> Vec<Show> {
        (0..count)
            .map(|index| Show {
                movie_id: MovieId {
                    theatre: TheatreCode::ALL[index % 3],
                    slot: SlotLetter::ALL[index / 3 % 3],
                    date: Date::new(2026, 11, 28 + (index / 9) as i8).expect("valid date"),
                },
                movie: Movie::Avatar,
                capacity: 10_000,
                available: 9_042,
            })
            .collect()
    };
    let listing = Response::ok(Body::Shows(shows(9)));
    // What `cineflix bench` meets with its setup: 2 days x 3 slots x 3 theatres.
    let listing_18 = Response::ok(Body::Shows(shows(18)));
    let rendered_listing_18 = render_response_with_message(SoapVersion::V11, &listing_request, &listing_18, "18 shows");
    let schedule_request = Request {
        user_id: "ATWC0001".into(),
        operation: booking::Operation::GetBookingSchedule { customer_id: "ATWC0001".into() },
    };
    let schedule = Response::ok(Body::Schedule(
        shows(6)
            .into_iter()
            .map(|show| ScheduleEntry { movie_id: show.movie_id, movie: show.movie, tickets: 3 })
            .collect(),
    ));
    let rendered_schedule = render_response_with_message(SoapVersion::V11, &schedule_request, &schedule, "6 bookings");
    let rendered_listing = render_response_with_message(SoapVersion::V11, &listing_request, &listing, "9 shows");
    time(filter, "render_response (9 shows)", iterations, rendered_listing.len(), || {
        black_box(render_response_with_message(SoapVersion::V11, black_box(&listing_request), &listing, "9 shows"));
    });

    for (name, rendered) in
        [("9 shows", &rendered_listing), ("18 shows", &rendered_listing_18), ("6 bookings", &rendered_schedule)]
    {
        parse_response(rendered).unwrap_or_else(|error| panic!("the {name} response parses: {error}"));
    }

    let built = build_request(SoapVersion::V11, &request);
    time(filter, "build_request", iterations, built.len(), || {
        black_box(build_request(SoapVersion::V11, black_box(&request)));
    });
    time(filter, "parse_response (result only)", iterations, rendered.len(), || {
        black_box(parse_response(black_box(&rendered)).is_ok());
    });
    time(filter, "parse_response (9 shows)", iterations, rendered_listing.len(), || {
        black_box(parse_response(black_box(&rendered_listing)).is_ok());
    });
    time(filter, "parse_response (18 shows)", iterations, rendered_listing_18.len(), || {
        black_box(parse_response(black_box(&rendered_listing_18)).is_ok());
    });
    time(filter, "parse_response (6 bookings)", iterations, rendered_schedule.len(), || {
        black_box(parse_response(black_box(&rendered_schedule)).is_ok());
    });
    // The load generator's read: the result code only.
    for (label, rendered, operation) in [
        ("parse_response_code (result only)", &rendered, "bookMovieTickets"),
        ("parse_response_code (18 shows)", &rendered_listing_18, "listMovieShowsAvailability"),
        ("parse_response_code (6 bookings)", &rendered_schedule, "getBookingSchedule"),
    ] {
        parse_response_code(rendered, operation).unwrap_or_else(|error| panic!("{label}: {error}"));
        time(filter, label, iterations, rendered.len(), || {
            black_box(parse_response_code(black_box(rendered), operation).is_ok());
        });
    }
}
