//! Writing envelopes: responses (server side) and requests (client side), straight into one
//! pre-sized buffer, no DOM.
//!
//! Output is UTF-8 with an XML declaration. The envelope uses a prefix (`soap` for 1.1, `env` for 1.2)
//! and never a default namespace; the payload element declares `urn:cineflix:booking:v1` as its default
//! namespace, so its children are qualified as `elementFormDefault="qualified"` requires. Text is escaped,
//! and characters XML 1.0 forbids (user data echoed back may hold them) are replaced by U+FFFD, because
//! lxml-based clients such as zeep refuse the whole message otherwise. Faults are rendered in
//! [`crate::fault`].

use booking::{Body, MovedBooking, Operation, Request, Response, ScheduleEntry, Show};

use crate::SoapVersion;
use crate::wire::{OpKind, Param, push_int, push_movie_id, push_xs_date, slot_name};

/// An output buffer with XML-aware appends.
pub(crate) struct Out(Vec<u8>);

impl Out {
    pub(crate) fn with_capacity(capacity: usize) -> Out {
        Out(Vec::with_capacity(capacity))
    }

    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.0
    }

    /// Appends markup written by this crate (never client data).
    pub(crate) fn raw(&mut self, markup: &str) {
        self.0.extend_from_slice(markup.as_bytes());
    }

    /// Appends character data, escaped, with forbidden characters replaced.
    pub(crate) fn text(&mut self, text: &str) {
        push_escaped(&mut self.0, text, false);
    }

    fn open(&mut self, name: &str) {
        self.0.push(b'<');
        self.raw(name);
        self.0.push(b'>');
    }

    fn close(&mut self, name: &str) {
        self.raw("</");
        self.raw(name);
        self.0.push(b'>');
    }

    fn leaf_text(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }

    fn leaf_int(&mut self, name: &str, value: i64) {
        self.open(name);
        push_int(&mut self.0, value);
        self.close(name);
    }

    fn leaf_bool(&mut self, name: &str, value: bool) {
        self.open(name);
        self.raw(if value { "true" } else { "false" });
        self.close(name);
    }

    fn leaf_movie_id(&mut self, name: &str, movie_id: booking::MovieId) {
        self.open(name);
        push_movie_id(&mut self.0, movie_id);
        self.close(name);
    }

    fn leaf_date(&mut self, name: &str, date: booking::Date) {
        self.open(name);
        push_xs_date(&mut self.0, date);
        self.close(name);
    }

    fn envelope_start(&mut self, version: SoapVersion) {
        self.raw(r#"<?xml version="1.0" encoding="utf-8"?>"#);
        self.raw(match version {
            SoapVersion::V11 => r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#,
            SoapVersion::V12 => r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>"#,
        });
    }

    fn envelope_end(&mut self, version: SoapVersion) {
        self.raw(match version {
            SoapVersion::V11 => "</soap:Body></soap:Envelope>",
            SoapVersion::V12 => "</env:Body></env:Envelope>",
        });
    }

    /// `<name xmlns="urn:cineflix:booking:v1">`
    fn payload_start(&mut self, name: &str) {
        self.0.push(b'<');
        self.raw(name);
        self.raw(r#" xmlns="urn:cineflix:booking:v1">"#);
    }
}

/// Appends `text` escaped for element content (or for a double-quoted attribute value when
/// `attribute`), replacing characters XML 1.0 forbids with U+FFFD. CR is written as `&#13;` so that a
/// reader's line-end normalization gives it back unchanged.
pub(crate) fn push_escaped(out: &mut Vec<u8>, text: &str, attribute: bool) {
    const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let (replacement, width): (&[u8], usize) = match byte {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'\r' => (b"&#13;", 1),
            b'"' if attribute => (b"&quot;", 1),
            b'\t' if attribute => (b"&#9;", 1),
            b'\n' if attribute => (b"&#10;", 1),
            b'\t' | b'\n' => {
                index += 1;
                continue;
            }
            0..=0x1F => (REPLACEMENT, 1),
            0xEF if bytes.get(index + 1) == Some(&0xBF) && matches!(bytes.get(index + 2), Some(0xBE | 0xBF)) => {
                (REPLACEMENT, 3)
            }
            _ => {
                index += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[copied..index]);
        out.extend_from_slice(replacement);
        index += width;
        copied = index;
    }
    out.extend_from_slice(&bytes[copied..]);
}

/// Renders the success-or-rejection response envelope (domain rejections are normal responses,
/// `success=false`). The human message comes from [`Response::message`].
pub fn render_response(version: SoapVersion, request: &Request, response: &Response) -> Vec<u8> {
    render_response_with_message(version, request, response, &response.message(request))
}

/// [`render_response`] with the human message given by the caller (who may have it already).
///
/// The response element is named after `request`'s operation; its list elements come from
/// `response.body`, which must belong to that operation (a mismatch is a bug in the caller: it
/// asserts in debug builds, and renders the body as given in release builds).
pub fn render_response_with_message(
    version: SoapVersion,
    request: &Request,
    response: &Response,
    message: &str,
) -> Vec<u8> {
    let kind = OpKind::of(&request.operation);
    debug_assert!(body_fits(kind, &response.body), "a {:?} body cannot answer {}", response.body, kind.name());
    let items = match &response.body {
        Body::Empty => 0,
        Body::Removed(list) => list.len(),
        Body::Shows(list) => list.len(),
        Body::Schedule(list) => list.len(),
    };
    let mut out = Out::with_capacity(384 + message.len() + items * 256);
    out.envelope_start(version);
    let element = response_element(kind);
    out.payload_start(element);
    out.open("result");
    out.leaf_bool("success", response.success());
    out.leaf_text("code", response.code.as_str());
    out.leaf_text("message", message);
    out.close("result");
    match &response.body {
        Body::Empty => {}
        Body::Removed(list) => list.iter().for_each(|moved| moved_booking(&mut out, moved)),
        Body::Shows(list) => list.iter().for_each(|item| show(&mut out, item)),
        Body::Schedule(list) => list.iter().for_each(|entry| booking_entry(&mut out, entry)),
    }
    out.close(element);
    out.envelope_end(version);
    out.into_inner()
}

fn body_fits(kind: OpKind, body: &Body) -> bool {
    match body {
        Body::Empty => true,
        Body::Removed(_) => kind == OpKind::RemoveMovieSlots,
        Body::Shows(_) => kind == OpKind::ListMovieShowsAvailability,
        Body::Schedule(_) => kind == OpKind::GetBookingSchedule,
    }
}

fn response_element(kind: OpKind) -> &'static str {
    match kind {
        OpKind::AddMovieSlots => "addMovieSlotsResponse",
        OpKind::RemoveMovieSlots => "removeMovieSlotsResponse",
        OpKind::ListMovieShowsAvailability => "listMovieShowsAvailabilityResponse",
        OpKind::BookMovieTickets => "bookMovieTicketsResponse",
        OpKind::GetBookingSchedule => "getBookingScheduleResponse",
        OpKind::CancelMovieTickets => "cancelMovieTicketsResponse",
        OpKind::ExchangeTickets => "exchangeTicketsResponse",
    }
}

fn moved_booking(out: &mut Out, moved: &MovedBooking) {
    out.open("movedBooking");
    out.leaf_text("customerID", &moved.customer_id);
    out.leaf_int("tickets", i64::from(moved.tickets));
    if let Some(new_movie_id) = moved.new_movie_id {
        out.leaf_movie_id("newMovieID", new_movie_id);
    }
    out.leaf_bool("cancelled", moved.new_movie_id.is_none());
    out.close("movedBooking");
}

fn show(out: &mut Out, show: &Show) {
    out.open("show");
    out.leaf_movie_id("movieID", show.movie_id);
    out.leaf_text("movieName", show.movie.as_str());
    out.leaf_text("theatre", show.movie_id.theatre.as_str());
    out.leaf_date("date", show.movie_id.date);
    out.leaf_text("slot", slot_name(show.movie_id.slot));
    out.leaf_int("capacity", i64::from(show.capacity));
    out.leaf_int("available", i64::from(show.available));
    out.close("show");
}

fn booking_entry(out: &mut Out, entry: &ScheduleEntry) {
    out.open("booking");
    out.leaf_movie_id("movieID", entry.movie_id);
    out.leaf_text("movieName", entry.movie.as_str());
    out.leaf_text("theatre", entry.movie_id.theatre.as_str());
    out.leaf_date("date", entry.movie_id.date);
    out.leaf_text("slot", slot_name(entry.movie_id.slot));
    out.leaf_int("tickets", i64::from(entry.tickets));
    out.close("booking");
}

/// Client side: the request envelope for `request`, in the element order of the contract.
pub fn build_request(version: SoapVersion, request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    build_request_into(&mut out, version, request);
    out
}

/// [`build_request`] into `out` (cleared first), so that a caller sending many requests (the
/// load generator) reuses one buffer instead of allocating one per request.
pub fn build_request_into(out: &mut Vec<u8>, version: SoapVersion, request: &Request) {
    out.clear();
    let mut buffer = Out(std::mem::take(out));
    write_request(&mut buffer, version, request);
    *out = buffer.into_inner();
}

fn write_request(out: &mut Out, version: SoapVersion, request: &Request) {
    let kind = OpKind::of(&request.operation);
    out.envelope_start(version);
    out.payload_start(kind.name());
    out.leaf_text(Param::UserId.name(), &request.user_id);
    match &request.operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
            out.leaf_text(Param::MovieId.name(), movie_id);
            out.leaf_text(Param::MovieName.name(), movie_name);
            out.leaf_int(Param::BookingCapacity.name(), i64::from(*booking_capacity));
        }
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            out.leaf_text(Param::MovieId.name(), movie_id);
            out.leaf_text(Param::MovieName.name(), movie_name);
        }
        Operation::ListMovieShowsAvailability { movie_name } => {
            out.leaf_text(Param::MovieName.name(), movie_name);
        }
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
        | Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            out.leaf_text(Param::CustomerId.name(), customer_id);
            out.leaf_text(Param::MovieId.name(), movie_id);
            out.leaf_text(Param::MovieName.name(), movie_name);
            out.leaf_int(Param::NumberOfTickets.name(), i64::from(*number_of_tickets));
        }
        Operation::GetBookingSchedule { customer_id } => {
            out.leaf_text(Param::CustomerId.name(), customer_id);
        }
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => {
            out.leaf_text(Param::CustomerId.name(), customer_id);
            out.leaf_text(Param::MovieId.name(), movie_id);
            out.leaf_text(Param::MovieName.name(), movie_name);
            out.leaf_text(Param::NewMovieId.name(), new_movie_id);
            out.leaf_text(Param::NewMovieName.name(), new_movie_name);
            out.leaf_int(Param::NumberOfTickets.name(), i64::from(*number_of_tickets));
        }
    }
    out.close(kind.name());
    out.envelope_end(version);
}

#[cfg(test)]
mod tests {
    use super::push_escaped;

    #[test]
    fn escaping_and_forbidden_characters() {
        let check = |input: &str, attribute: bool, expected: &str| {
            let mut out = Vec::new();
            push_escaped(&mut out, input, attribute);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{input:?}");
        };
        check("plain", false, "plain");
        check("a<b>&c", false, "a&lt;b&gt;&amp;c");
        check("tab\tnl\ncr\r", false, "tab\tnl\ncr&#13;");
        check("nul\u{0}bell\u{7}", false, "nul\u{FFFD}bell\u{FFFD}");
        check("x\u{FFFE}y\u{FFFF}z\u{FFFD}", false, "x\u{FFFD}y\u{FFFD}z\u{FFFD}");
        check("é€😀", false, "é€😀");
        check("\"q\"\t\n", true, "&quot;q&quot;&#9;&#10;");
        check("\"q\"", false, "\"q\"");
    }
}
