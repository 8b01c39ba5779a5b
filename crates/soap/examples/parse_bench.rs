//! Micro-benchmark of the hot path: parse_request and render_response on typical envelopes, plus the
//! client side. Run with `cargo run -p soap --release --example parse_bench [iterations]`.
//!
//! A rough figure for one machine, not a statistically careful benchmark (no warm-up analysis, no
//! outlier handling); it exists to notice regressions of an order of magnitude.

use std::hint::black_box;
use std::time::Instant;

use booking::{Body, Date, Movie, MovieId, Request, Response, Show, SlotLetter, TheatreCode};
use soap::{SoapVersion, build_request, parse_request, parse_response, render_response_with_message};

/// What zeep sends for bookMovieTickets (SOAP 1.1), about 0.5 KB.
const ZEEP_REQUEST: &str = concat!(
    "<?xml version='1.0' encoding='utf-8'?>\n",
    r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>"#,
    r#"<ns0:bookMovieTickets xmlns:ns0="urn:cineflix:booking:v1"><ns0:userID>ATWC0001</ns0:userID>"#,
    "<ns0:customerID>ATWC0001</ns0:customerID><ns0:movieID>ATWE281126</ns0:movieID>",
    "<ns0:movieName>Avatar</ns0:movieName><ns0:numberOfTickets>2</ns0:numberOfTickets>",
    "</ns0:bookMovieTickets></soap-env:Body></soap-env:Envelope>"
);

fn time(label: &str, iterations: u32, bytes: usize, mut work: impl FnMut()) {
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
    let parsed = parse_request(ZEEP_REQUEST.as_bytes()).expect("the benchmark envelope parses");
    let request: Request = parsed.request.clone();

    time("parse_request (zeep bookMovieTickets)", iterations, ZEEP_REQUEST.len(), || {
        black_box(parse_request(black_box(ZEEP_REQUEST.as_bytes())).is_ok());
    });

    let ok = Response::ok(Body::Empty);
    let message = "Booked 2 tickets of Avatar at ATWE281126 for ATWC0001.";
    let rendered = render_response_with_message(SoapVersion::V11, &request, &ok, message);
    time("render_response (result only)", iterations, rendered.len(), || {
        black_box(render_response_with_message(SoapVersion::V11, black_box(&request), &ok, message));
    });

    let listing_request = Request {
        user_id: "ATWC0001".into(),
        operation: booking::Operation::ListMovieShowsAvailability { movie_name: "Avatar".into() },
    };
    let shows = (0..9)
        .map(|index| Show {
            movie_id: MovieId {
                theatre: TheatreCode::ALL[index % 3],
                slot: SlotLetter::ALL[index / 3],
                date: Date::new(2026, 11, 28).expect("valid date"),
            },
            movie: Movie::Avatar,
            capacity: 100,
            available: 42,
        })
        .collect();
    let listing = Response::ok(Body::Shows(shows));
    let rendered_listing = render_response_with_message(SoapVersion::V11, &listing_request, &listing, "9 shows");
    time("render_response (9 shows)", iterations, rendered_listing.len(), || {
        black_box(render_response_with_message(SoapVersion::V11, black_box(&listing_request), &listing, "9 shows"));
    });

    let built = build_request(SoapVersion::V11, &request);
    time("build_request", iterations, built.len(), || {
        black_box(build_request(SoapVersion::V11, black_box(&request)));
    });
    time("parse_response (result only)", iterations, rendered.len(), || {
        black_box(parse_response(black_box(&rendered)).is_ok());
    });
    time("parse_response (9 shows)", iterations, rendered_listing.len(), || {
        black_box(parse_response(black_box(&rendered_listing)).is_ok());
    });
}
