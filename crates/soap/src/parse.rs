//! Server side: one request envelope in, a [`booking::Request`] (or a [`Fault`]) out.
//!
//! The operation is chosen by the qualified name of the Body's child, never by `SOAPAction`.
//! Parameters are matched by local name, in any order, qualified in `urn:cineflix:booking:v1` or
//! unqualified (some hand-written clients forget `elementFormDefault`). Each must appear exactly once;
//! any other element inside the operation element is an `InvalidValue` fault: the contract is fixed, and
//! a client sending something we would silently drop is better told so. Values are kept exactly as sent
//! (strings are not trimmed: `xs:string` preserves whitespace); only `xs:int` is checked here, because
//! the schema says so; everything else is the replicas' to judge.

use std::borrow::Cow;

use booking::{Operation, Request};

use crate::cursor::{Cursor, Item, Ns, is_xml_whitespace, quote};
use crate::envelope::{Headers, close_body, open_body};
use crate::wire::{OpKind, Param, parse_xs_int};
use crate::{Fault, FaultKind, ParsedRequest};

/// Parses one request envelope (bytes exactly as received, may start with a UTF-8 BOM).
///
/// Never panics; the work is linear in the input and bounded by the depth and element limits.
pub fn parse_request(body: &[u8]) -> Result<ParsedRequest, Fault> {
    let mut cursor = Cursor::new(body)?;
    match parse_envelope(&mut cursor) {
        Ok(parsed) => Ok(parsed),
        // A document that is not well-formed is reported as such even when a content problem came
        // first (`<movieName>Avatar<numberOfTickets>` is a missing end tag, not a nested element).
        Err(fault) if matches!(fault.kind, FaultKind::MalformedXml | FaultKind::DoctypeForbidden) => Err(fault),
        Err(fault) => Err(drain(&mut cursor).err().unwrap_or(fault)),
    }
}

/// Reads the rest of the document, for its well-formedness errors only.
fn drain(cursor: &mut Cursor<'_>) -> Result<(), Fault> {
    while !matches!(cursor.next()?, Item::Eof) {}
    Ok(())
}

fn parse_envelope(cursor: &mut Cursor<'_>) -> Result<ParsedRequest, Fault> {
    let Some((operation, ns)) = open_body(cursor, Headers::Enforce)? else {
        return Err(cursor.fault(FaultKind::UnknownOperation, "the Body contains no operation element"));
    };
    let kind = match ns {
        Ns::Cineflix => OpKind::from_name(operation.local_name()),
        _ => None,
    };
    let Some(kind) = kind else {
        let name = cursor.describe(&operation);
        return Err(cursor.fault(
            FaultKind::UnknownOperation,
            format!(
                "unknown operation {name}; expected one of {} in namespace {}",
                OpKind::ALL.map(OpKind::name).join(", "),
                crate::NAMESPACE
            ),
        ));
    };
    let mut values: [Option<Cow<'_, str>>; Param::COUNT] = Default::default();
    read_params(cursor, kind, &mut values)?;
    close_body(cursor)?;
    let request = build(cursor, kind, values)?;
    Ok(ParsedRequest { version: cursor.version, request })
}

/// Reads the operation element's children through its Close.
fn read_params<'i>(
    cursor: &mut Cursor<'i>,
    kind: OpKind,
    values: &mut [Option<Cow<'i, str>>; Param::COUNT],
) -> Result<(), Fault> {
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Close => return Ok(()),
            Item::Open(start, ns) => {
                let param = match ns {
                    Ns::Cineflix | Ns::Unqualified => {
                        let local = start.local_name();
                        kind.params().iter().copied().find(|param| param.name() == local)
                    }
                    _ => None,
                };
                let Some(param) = param else {
                    let name = cursor.describe(&start);
                    return Err(cursor.fault(
                        FaultKind::InvalidValue,
                        format!("element {name} is not a parameter of {}", kind.name()),
                    ));
                };
                if values[param.index()].is_some() {
                    return Err(cursor.fault(
                        FaultKind::InvalidValue,
                        format!("element {} appears more than once in {}", param.name(), kind.name()),
                    ));
                }
                let text = cursor.text_content().map_err(|error| {
                    error.unwrap_or_else(|| {
                        cursor
                            .fault(FaultKind::InvalidValue, format!("element {} must contain text only", param.name()))
                    })
                })?;
                values[param.index()] = Some(text);
            }
            Item::Text(_) | Item::Char(_) => {
                return Err(
                    cursor.fault(FaultKind::InvalidValue, format!("text is not allowed directly in {}", kind.name()))
                );
            }
            Item::Eof => return Err(cursor.fault(FaultKind::MalformedXml, "unexpected end of input")),
        }
    }
}

fn build(
    cursor: &Cursor<'_>,
    kind: OpKind,
    mut values: [Option<Cow<'_, str>>; Param::COUNT],
) -> Result<Request, Fault> {
    if let Some(missing) = kind.params().iter().find(|param| values[param.index()].is_none()) {
        return Err(cursor.fault(
            FaultKind::MissingElement,
            format!("{} needs element {} (in namespace {})", kind.name(), missing.name(), crate::NAMESPACE),
        ));
    }
    let values = &mut values;
    let user_id = string(values, Param::UserId);
    let operation = match kind {
        OpKind::AddMovieSlots => Operation::AddMovieSlots {
            movie_id: string(values, Param::MovieId),
            movie_name: string(values, Param::MovieName),
            booking_capacity: int(cursor, values, Param::BookingCapacity)?,
        },
        OpKind::RemoveMovieSlots => Operation::RemoveMovieSlots {
            movie_id: string(values, Param::MovieId),
            movie_name: string(values, Param::MovieName),
        },
        OpKind::ListMovieShowsAvailability => {
            Operation::ListMovieShowsAvailability { movie_name: string(values, Param::MovieName) }
        }
        OpKind::BookMovieTickets => Operation::BookMovieTickets {
            customer_id: string(values, Param::CustomerId),
            movie_id: string(values, Param::MovieId),
            movie_name: string(values, Param::MovieName),
            number_of_tickets: int(cursor, values, Param::NumberOfTickets)?,
        },
        OpKind::GetBookingSchedule => Operation::GetBookingSchedule { customer_id: string(values, Param::CustomerId) },
        OpKind::CancelMovieTickets => Operation::CancelMovieTickets {
            customer_id: string(values, Param::CustomerId),
            movie_id: string(values, Param::MovieId),
            movie_name: string(values, Param::MovieName),
            number_of_tickets: int(cursor, values, Param::NumberOfTickets)?,
        },
        OpKind::ExchangeTickets => Operation::ExchangeTickets {
            customer_id: string(values, Param::CustomerId),
            movie_id: string(values, Param::MovieId),
            movie_name: string(values, Param::MovieName),
            new_movie_id: string(values, Param::NewMovieId),
            new_movie_name: string(values, Param::NewMovieName),
            number_of_tickets: int(cursor, values, Param::NumberOfTickets)?,
        },
    };
    Ok(Request { user_id, operation })
}

fn string(values: &mut [Option<Cow<'_, str>>; Param::COUNT], param: Param) -> String {
    values[param.index()].take().map(Cow::into_owned).unwrap_or_default()
}

fn int(cursor: &Cursor<'_>, values: &[Option<Cow<'_, str>>; Param::COUNT], param: Param) -> Result<i32, Fault> {
    let text = values[param.index()].as_deref().unwrap_or("");
    parse_xs_int(text).ok_or_else(|| {
        cursor.fault(
            FaultKind::InvalidValue,
            format!(
                "element {} must be an xs:int (a whole number from -2147483648 to 2147483647), not '{}'",
                param.name(),
                quote(text)
            ),
        )
    })
}
