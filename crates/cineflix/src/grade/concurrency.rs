//! The concurrency cases: many customers racing over parallel connections for the last seats of one slot. The
//! total order decides who gets them; whatever the order, a slot is never oversold and
//! capacity = available + booked.

use super::load::race;
use super::target::book_op;
use super::{Case, CaseResult, Group, Needs, Target, fail};
use booking::ResultCode::{self, Ok as OkCode, SoldOut};
use booking::{Request, TheatreCode};
use std::time::Duration;

/// Customers racing in the first and third case.
const RACERS: usize = 32;
/// Bound of one racing request.
const RACE_TIMEOUT: Duration = Duration::from_secs(30);

fn case(
    id: &'static str,
    scenario: &'static str,
    expected: &'static str,
    codes: &'static [ResultCode],
    run: fn(&mut Target) -> CaseResult,
) -> Case {
    Case { id, group: Group::Concurrency, scenario, expected, codes, needs: Needs::Service, run }
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "C01",
            "32 customers race for the last 5 seats",
            "exactly 5 OK, 27 SOLD_OUT, no fault; 20 = 0 available + 20 booked",
            &[OkCode, SoldOut],
            last_seats,
        ),
        case(
            "C02",
            "one customer sends 16 bookings of 1 at once to a 10-seat slot",
            "exactly 10 OK, 6 SOLD_OUT; one booking of 10 tickets",
            &[OkCode, SoldOut],
            one_customer_parallel,
        ),
        case(
            "C03",
            "32 customers race for 2 seats each of 9",
            "exactly 4 OK, 28 SOLD_OUT; 9 = 1 available + 8 booked",
            &[OkCode, SoldOut],
            pairs_race,
        ),
    ]
}

/// Races `requests`; returns (OK count, SOLD_OUT count) or fails on anything else.
fn run_race(t: &Target, requests: Vec<Request>) -> Result<(usize, usize), super::Stop> {
    let answers = race(&t.endpoint, t.version, requests, RACE_TIMEOUT).map_err(super::Stop::Fail)?;
    let mut ok = 0;
    let mut sold_out = 0;
    let mut others = Vec::new();
    for answer in answers {
        match answer {
            Ok(response) if response.code == OkCode => ok += 1,
            Ok(response) if response.code == SoldOut => sold_out += 1,
            Ok(response) => others.push(response.code.as_str().to_owned()),
            Err(error) => others.push(error.to_string()),
        }
    }
    if !others.is_empty() {
        return fail(format!("{ok} OK, {sold_out} SOLD_OUT, and {}: {}", others.len(), others.join("; ")));
    }
    Ok((ok, sold_out))
}

/// Fresh customers spread over the three theatres (each booking is at most their first outside one).
fn racers(t: &mut Target, count: usize) -> Result<Vec<String>, super::Stop> {
    (0..count).map(|index| t.customer(TheatreCode::ALL[index % 3])).collect()
}

fn last_seats(t: &mut Target) -> CaseResult {
    let slot = t.any_slot(TheatreCode::Out, 20)?;
    let filler = t.customer(TheatreCode::Out)?;
    t.expect(&filler, book_op(&filler, slot, 15), OkCode)?;
    let customers = racers(t, RACERS)?;
    let requests = customers
        .iter()
        .map(|customer| Request { user_id: customer.clone(), operation: book_op(customer, slot, 1) })
        .collect();
    let (ok, sold_out) = run_race(t, requests)?;
    let booked: u32 = customers.iter().map(|customer| t.tickets(customer, slot)).sum::<Result<u32, _>>()?;
    let listed = t.show(slot)?;
    let observed =
        format!("{ok} OK, {sold_out} SOLD_OUT; racers hold {booked}; listed {listed:?} (capacity, available)");
    if ok == 5 && sold_out == RACERS - 5 && booked == 5 && listed == Some((20, 0)) {
        Ok(observed)
    } else {
        fail(observed)
    }
}

fn one_customer_parallel(t: &mut Target) -> CaseResult {
    let slot = t.any_slot(TheatreCode::Ver, 10)?;
    let customer = t.customer(TheatreCode::Ver)?;
    let requests =
        (0..16).map(|_| Request { user_id: customer.clone(), operation: book_op(&customer, slot, 1) }).collect();
    let (ok, sold_out) = run_race(t, requests)?;
    let schedule = t.schedule(&customer)?;
    let listed = t.show(slot)?;
    let observed = format!(
        "{ok} OK, {sold_out} SOLD_OUT; schedule {} entries, {:?} tickets; listed {listed:?}",
        schedule.len(),
        schedule.first().map(|entry| entry.tickets)
    );
    if ok == 10 && sold_out == 6 && schedule.len() == 1 && schedule[0].tickets == 10 && listed == Some((10, 0)) {
        Ok(observed)
    } else {
        fail(observed)
    }
}

fn pairs_race(t: &mut Target) -> CaseResult {
    let slot = t.any_slot(TheatreCode::Atw, 9)?;
    let customers = racers(t, RACERS)?;
    let requests = customers
        .iter()
        .map(|customer| Request { user_id: customer.clone(), operation: book_op(customer, slot, 2) })
        .collect();
    let (ok, sold_out) = run_race(t, requests)?;
    let booked: u32 = customers.iter().map(|customer| t.tickets(customer, slot)).sum::<Result<u32, _>>()?;
    let listed = t.show(slot)?;
    let observed = format!("{ok} OK, {sold_out} SOLD_OUT; racers hold {booked}; listed {listed:?}");
    match listed {
        Some((capacity, available))
            if ok == 4 && sold_out == RACERS - 4 && booked == 8 && capacity == available + booked =>
        {
            Ok(observed)
        }
        _ => fail(observed),
    }
}
