//! Client side: a response envelope in, a [`booking::Response`] and its message (or the fault) out.
//!
//! Used by the `cineflix` CLI and its load generator. Unlike the server's request parser it is lenient
//! toward elements it does not know (a newer server may add some) and ignores every header block. It
//! checks that the answer is self-consistent (`success` agrees with `code`, a show's theatre, date and
//! slot agree with its movie ID), because the CLI prints and logs what it decodes.

use std::borrow::Cow;

use booking::{Body, MovedBooking, Response, ResultCode, ScheduleEntry, Show};

use crate::cursor::{Cursor, Item, Ns, Start};
use crate::envelope::{Headers, close_body, open_body};
use crate::wire::{
    OpKind, parse_count, parse_movie, parse_movie_id, parse_slot_name, parse_theatre, parse_xs_boolean, parse_xs_date,
};
use crate::{Fault, SoapVersion};

/// A decoded CineFlix response: the structured answer and the human message that came with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientResponse {
    pub response: Response,
    pub message: String,
}

/// Why [`parse_response`] produced no [`ClientResponse`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with a SOAP fault. `code` is the `ServiceError` code (e.g.
    /// `SERVICE_UNAVAILABLE`) when the fault has that detail, else the SOAP fault code as written
    /// (e.g. `soap:Server`); `message` is the detail's message, else the fault string.
    #[error("SOAP fault {code}: {message}")]
    Fault { code: String, message: String },
    /// The answer is not a well-formed CineFlix response envelope.
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl From<Fault> for ClientError {
    fn from(fault: Fault) -> ClientError {
        ClientError::Malformed(fault.message)
    }
}

fn malformed(message: impl Into<String>) -> ClientError {
    ClientError::Malformed(message.into())
}

/// Parses a response envelope (SOAP 1.1 or 1.2), or the fault it carries.
pub fn parse_response(body: &[u8]) -> Result<ClientResponse, ClientError> {
    parse_envelope(&mut Cursor::new(body)?)
}

/// Reads only as much of a response envelope as it takes to know how the operation named `operation`
/// (its request element, e.g. `bookMovieTickets`) ended: its result code, or the fault it carries.
///
/// For the load generator, which needs the code of every answer but none of its lists. It checks what
/// [`parse_response`] checks up to the end of `result` (a SOAP 1.1 or 1.2 Envelope, its Body's element,
/// a fault read the same way, `result` with `success` agreeing with a known `code` and a `message`) and
/// also that the answer is the `{operation}Response` asked for (`parse_response` takes any operation's).
/// It deliberately stops there: the elements after `result` (listings, schedules), the rest of the
/// envelope and the UTF-8 of what it did not read are left unchecked, so an answer it accepts may be
/// one `parse_response` rejects; one `parse_response` accepts gives the same code here.
pub fn parse_response_code(body: &[u8], operation: &str) -> Result<ResultCode, ClientError> {
    let mut cursor = Cursor::streaming(body);
    let (start, ns) = open_body(&mut cursor, Headers::Ignore)?.ok_or_else(|| malformed("the Body is empty"))?;
    let local = start.local_name();
    if ns == Ns::envelope(cursor.version) && local == "Fault" {
        return Err(read_fault(&mut cursor)?);
    }
    if ns != Ns::Cineflix || local.strip_suffix("Response") != Some(operation) {
        return Err(malformed(format!(
            "unexpected Body element {} (expected {{{}}}{operation}Response)",
            cursor.describe(&start),
            crate::NAMESPACE
        )));
    }
    loop {
        match cursor.next()? {
            Item::Open(start, ns) if is_ours(ns) && start.local_name() == "result" => {
                return read_result_fields(&mut cursor).map(|(code, _message)| code);
            }
            Item::Open(..) => cursor.skip_element()?,
            Item::Close => return Err(malformed(format!("{operation}Response has no result"))),
            Item::Text(_) | Item::Char(_) => {}
            Item::Eof => return Err(malformed("unexpected end of input")),
        }
    }
}

fn parse_envelope(cursor: &mut Cursor<'_>) -> Result<ClientResponse, ClientError> {
    let (start, ns) = open_body(cursor, Headers::Ignore)?.ok_or_else(|| malformed("the Body is empty"))?;
    let local = start.local_name();
    if ns == Ns::envelope(cursor.version) && local == "Fault" {
        return Err(read_fault(cursor)?);
    }
    let kind = match ns {
        Ns::Cineflix => OpKind::from_response_name(local),
        _ => None,
    };
    let Some(kind) = kind else {
        return Err(malformed(format!("unexpected Body element {}", cursor.describe(&start))));
    };
    let parsed = read_response(cursor, kind)?;
    close_body(cursor)?;
    Ok(parsed)
}

/// Whether an element is one of ours: qualified in the CineFlix namespace, or unqualified.
fn is_ours(ns: Ns) -> bool {
    matches!(ns, Ns::Cineflix | Ns::Unqualified)
}

/// Reads the children of the element just opened into `fields` by local name (CineFlix namespace or
/// unqualified), skipping unknown ones, through its Close.
fn read_record<'i, const N: usize>(
    cursor: &mut Cursor<'i>,
    record: &str,
    names: [&str; N],
) -> Result<[Option<Cow<'i, str>>; N], ClientError> {
    let mut fields: [Option<Cow<'i, str>>; N] = std::array::from_fn(|_| None);
    // Fields usually come in the contract's order: try the one after the last first.
    let mut expected = 0;
    loop {
        match cursor.next()? {
            Item::Open(start, ns) => {
                let local = start.local_name();
                let index = match names.get(expected) {
                    _ if !is_ours(ns) => None,
                    Some(name) if *name == local => Some(expected),
                    _ => names.iter().position(|name| *name == local),
                };
                let Some(index) = index else {
                    cursor.skip_element()?;
                    continue;
                };
                if fields[index].is_some() {
                    return Err(malformed(format!("{record}/{} appears twice", names[index])));
                }
                let text = cursor.text_content().map_err(|error| match error {
                    Some(fault) => ClientError::from(fault),
                    None => malformed(format!("{record}/{} must contain text only", names[index])),
                })?;
                fields[index] = Some(text);
                expected = index + 1;
            }
            Item::Close => return Ok(fields),
            Item::Text(_) | Item::Char(_) => {}
            Item::Eof => return Err(malformed("unexpected end of input")),
        }
    }
}

/// The value of a required field; `record` and `field` name it in the error (formatted only then).
fn required<'a>(value: &'a Option<Cow<'_, str>>, record: &str, field: &str) -> Result<&'a str, ClientError> {
    value.as_deref().ok_or_else(|| malformed(format!("{record}/{field} is missing")))
}

fn read_response(cursor: &mut Cursor<'_>, kind: OpKind) -> Result<ClientResponse, ClientError> {
    let mut result: Option<(ResultCode, String)> = None;
    let mut moved = Vec::new();
    let mut shows = Vec::new();
    let mut schedule = Vec::new();
    loop {
        let start = match cursor.next()? {
            Item::Open(start, ns) if is_ours(ns) => start,
            Item::Open(..) => {
                cursor.skip_element()?;
                continue;
            }
            Item::Close => break,
            Item::Text(_) | Item::Char(_) => continue,
            Item::Eof => return Err(malformed("unexpected end of input")),
        };
        match (start.local_name(), kind) {
            ("result", _) if result.is_none() => result = Some(read_result(cursor)?),
            ("result", _) => return Err(malformed("result appears twice")),
            ("movedBooking", OpKind::RemoveMovieSlots) => moved.push(read_moved_booking(cursor)?),
            ("show", OpKind::ListMovieShowsAvailability) => shows.push(read_show(cursor)?),
            ("booking", OpKind::GetBookingSchedule) => schedule.push(read_booking(cursor)?),
            _ => cursor.skip_element()?,
        }
    }
    let (code, message) = result.ok_or_else(|| malformed(format!("{}Response has no result", kind.name())))?;
    // A rejection carries no list (booking's Body contract); a success carries its operation's list.
    let body = match kind {
        _ if !code.is_ok() => Body::Empty,
        OpKind::RemoveMovieSlots => Body::Removed(moved),
        OpKind::ListMovieShowsAvailability => Body::Shows(shows),
        OpKind::GetBookingSchedule => Body::Schedule(schedule),
        _ => Body::Empty,
    };
    Ok(ClientResponse { response: Response { code, body }, message })
}

fn read_result(cursor: &mut Cursor<'_>) -> Result<(ResultCode, String), ClientError> {
    read_result_fields(cursor).map(|(code, message)| (code, message.into_owned()))
}

/// [`read_result`] with the message borrowed from the input where it can be.
fn read_result_fields<'i>(cursor: &mut Cursor<'i>) -> Result<(ResultCode, Cow<'i, str>), ClientError> {
    let [success, code, message] = read_record(cursor, "result", ["success", "code", "message"])?;
    let success = parse_xs_boolean(required(&success, "result", "success")?)
        .ok_or_else(|| malformed("result/success is not an xs:boolean"))?;
    let code_text = required(&code, "result", "code")?;
    let code = ResultCode::parse(code_text.trim())
        .ok_or_else(|| malformed(format!("result/code '{}' is not a known code", crate::cursor::quote(code_text))))?;
    if success != code.is_ok() {
        return Err(malformed(format!("result/success is {success} but result/code is {}", code.as_str())));
    }
    let message = message.ok_or_else(|| malformed("result/message is missing"))?;
    Ok((code, message))
}

fn read_moved_booking(cursor: &mut Cursor<'_>) -> Result<MovedBooking, ClientError> {
    let [customer_id, tickets, new_movie_id, cancelled] =
        read_record(cursor, "movedBooking", ["customerID", "tickets", "newMovieID", "cancelled"])?;
    let customer_id = required(&customer_id, "movedBooking", "customerID")?.to_owned();
    let tickets = parse_count(required(&tickets, "movedBooking", "tickets")?)
        .ok_or_else(|| malformed("movedBooking/tickets is not a count"))?;
    let new_movie_id = match new_movie_id.as_deref() {
        Some(text) => Some(parse_movie_id(text).ok_or_else(|| malformed("movedBooking/newMovieID is not a movie ID"))?),
        None => None,
    };
    let cancelled = parse_xs_boolean(required(&cancelled, "movedBooking", "cancelled")?)
        .ok_or_else(|| malformed("movedBooking/cancelled is not an xs:boolean"))?;
    if cancelled != new_movie_id.is_none() {
        return Err(malformed("movedBooking/cancelled must be true exactly when newMovieID is absent"));
    }
    Ok(MovedBooking { customer_id, tickets, new_movie_id })
}

/// The fields a show and a schedule entry share, checked against each other.
fn read_placement(
    record: &str,
    movie_id: &Option<Cow<'_, str>>,
    movie_name: &Option<Cow<'_, str>>,
    theatre: &Option<Cow<'_, str>>,
    date: &Option<Cow<'_, str>>,
    slot: &Option<Cow<'_, str>>,
) -> Result<(booking::MovieId, booking::Movie), ClientError> {
    let movie_id = parse_movie_id(required(movie_id, record, "movieID")?)
        .ok_or_else(|| malformed(format!("{record}/movieID is not a movie ID")))?;
    let movie = parse_movie(required(movie_name, record, "movieName")?)
        .ok_or_else(|| malformed(format!("{record}/movieName is not a catalogue movie")))?;
    let theatre = parse_theatre(required(theatre, record, "theatre")?);
    let date = parse_xs_date(required(date, record, "date")?);
    let slot = parse_slot_name(required(slot, record, "slot")?);
    if theatre != Some(movie_id.theatre) || date != Some(movie_id.date) || slot != Some(movie_id.slot) {
        return Err(malformed(format!("{record}: theatre, date and slot do not match movieID")));
    }
    Ok((movie_id, movie))
}

fn read_show(cursor: &mut Cursor<'_>) -> Result<Show, ClientError> {
    let [movie_id, movie_name, theatre, date, slot, capacity, available] =
        read_record(cursor, "show", ["movieID", "movieName", "theatre", "date", "slot", "capacity", "available"])?;
    let (movie_id, movie) = read_placement("show", &movie_id, &movie_name, &theatre, &date, &slot)?;
    let capacity = parse_count(required(&capacity, "show", "capacity")?)
        .ok_or_else(|| malformed("show/capacity is not a count"))?;
    let available = parse_count(required(&available, "show", "available")?)
        .ok_or_else(|| malformed("show/available is not a count"))?;
    Ok(Show { movie_id, movie, capacity, available })
}

fn read_booking(cursor: &mut Cursor<'_>) -> Result<ScheduleEntry, ClientError> {
    let [movie_id, movie_name, theatre, date, slot, tickets] =
        read_record(cursor, "booking", ["movieID", "movieName", "theatre", "date", "slot", "tickets"])?;
    let (movie_id, movie) = read_placement("booking", &movie_id, &movie_name, &theatre, &date, &slot)?;
    let tickets = parse_count(required(&tickets, "booking", "tickets")?)
        .ok_or_else(|| malformed("booking/tickets is not a count"))?;
    Ok(ScheduleEntry { movie_id, movie, tickets })
}

/// Reads a `Fault` (1.1: `faultcode`, `faultstring`, `detail`; 1.2: `Code/Value`, `Reason/Text`,
/// `Detail`) into [`ClientError::Fault`], preferring the `ServiceError` detail.
fn read_fault(cursor: &mut Cursor<'_>) -> Result<ClientError, ClientError> {
    let version = cursor.version;
    let mut soap_code: Option<String> = None;
    let mut reason: Option<String> = None;
    let mut service_error: Option<(String, String)> = None;
    loop {
        let start = match cursor.next()? {
            Item::Open(start, _) => start,
            Item::Close => break,
            Item::Text(_) | Item::Char(_) => continue,
            Item::Eof => return Err(malformed("unexpected end of input")),
        };
        match (version, start.local_name()) {
            (SoapVersion::V11, "faultcode") => soap_code = Some(text_of(cursor, "faultcode")?),
            (SoapVersion::V11, "faultstring") => reason = Some(text_of(cursor, "faultstring")?),
            (SoapVersion::V12, "Code") => soap_code = first_child_text(cursor, "Value")?,
            (SoapVersion::V12, "Reason") => reason = first_child_text(cursor, "Text")?,
            (SoapVersion::V11, "detail") | (SoapVersion::V12, "Detail") => service_error = read_detail(cursor)?,
            _ => cursor.skip_element()?,
        }
    }
    Ok(match service_error {
        Some((code, message)) => ClientError::Fault { code, message },
        None => ClientError::Fault {
            code: soap_code.unwrap_or_else(|| "unknown".to_owned()),
            message: reason.unwrap_or_default(),
        },
    })
}

fn text_of(cursor: &mut Cursor<'_>, name: &str) -> Result<String, ClientError> {
    match cursor.text_content() {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(Some(fault)) => Err(fault.into()),
        Err(None) => Err(malformed(format!("{name} must contain text only"))),
    }
}

/// The text of the first child named `name` of the element just opened; reads through its Close.
fn first_child_text(cursor: &mut Cursor<'_>, name: &str) -> Result<Option<String>, ClientError> {
    let mut found = None;
    loop {
        match cursor.next()? {
            Item::Open(start, _) if found.is_none() && local_is(&start, name) => found = Some(text_of(cursor, name)?),
            Item::Open(..) => cursor.skip_element()?,
            Item::Close => return Ok(found),
            Item::Text(_) | Item::Char(_) => {}
            Item::Eof => return Err(malformed("unexpected end of input")),
        }
    }
}

fn local_is(start: &Start<'_>, name: &str) -> bool {
    start.local_name() == name
}

/// The `ServiceError` (code, message) inside a fault detail, if there is one.
fn read_detail(cursor: &mut Cursor<'_>) -> Result<Option<(String, String)>, ClientError> {
    let mut found = None;
    loop {
        match cursor.next()? {
            Item::Open(start, Ns::Cineflix) if found.is_none() && local_is(&start, "ServiceError") => {
                let [code, message] = read_record(cursor, "ServiceError", ["code", "message"])?;
                let code = required(&code, "ServiceError", "code")?.trim().to_owned();
                found = Some((code, message.map(Cow::into_owned).unwrap_or_default()));
            }
            Item::Open(..) => cursor.skip_element()?,
            Item::Close => return Ok(found),
            Item::Text(_) | Item::Char(_) => {}
            Item::Eof => return Err(malformed("unexpected end of input")),
        }
    }
}
