//! `cineflix`: the CineFlix command-line client for admins and customers (one subcommand
//! per operation, and an interactive menu), and `cineflix bench`, a SOAP load generator.
//!
//! Every request goes over real SOAP/HTTP to a front end; the client holds no booking
//! state and applies no booking rule (it only checks the shape of the user ID, to pick a
//! menu and name the log file). Exit codes: 0 success, 1 domain rejection, 2 SOAP fault or
//! transport error, 64 usage error (see `outcome`).

mod bench;
mod chaos;
mod cli;
mod client;
mod compare;
mod demo;
mod grade;
mod interactive;
mod json;
mod operator;
mod outcome;
mod userid;
mod userlog;
mod workload;

use clap::Parser as _;
use cli::{Cli, Command, CustomerArgs, GlobalArgs};
use client::{Client, Endpoint};
use outcome::{EXIT_FAULT, EXIT_USAGE, Outcome};
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use userid::{Role, UserId};
use userlog::UserLog;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with success; everything else is a usage error,
            // kept apart from clap's default 2 so that 2 always means "fault".
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    let global = cli.global;
    match cli.command {
        Command::Bench(args) => bench::run(&global, &args),
        Command::Status(args) => operator::status(&args, global.json),
        Command::Fault(args) => operator::fault(&args, global.json),
        Command::Compare(args) => compare::run(&global, &args),
        Command::Chaos(args) => chaos::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Grade(args) => grade::run(&global, &args),
        Command::Interactive => match make_client(&global) {
            Ok(client) => {
                let log = UserLog::new(&global.log_dir);
                let stdin = std::io::stdin().lock();
                let stdout = std::io::stdout().lock();
                interactive::run(&client, &log, stdin, stdout)
            }
            Err(message) => usage_error(&message),
        },
        command => match request_for(command) {
            Ok((user, request)) => match make_client(&global) {
                Ok(client) => perform(&global, &client, &user, request),
                Err(message) => usage_error(&message),
            },
            Err(message) => usage_error(&message),
        },
    }
}

fn make_client(global: &GlobalArgs) -> Result<Client, String> {
    let endpoint = Endpoint::parse(&global.endpoint)?;
    Client::new(endpoint, global.soap.version(), Duration::from_millis(global.timeout_ms))
        .map_err(|error| format!("cannot start the client runtime: {error}"))
}

fn usage_error(message: &str) -> u8 {
    eprintln!("cineflix: error: {message}");
    eprintln!("For more information, try '--help'.");
    EXIT_USAGE
}

/// Sends one request, logs it for the user, prints the answer, returns the exit code.
fn perform(global: &GlobalArgs, client: &Client, user: &UserId, request: booking::Request) -> u8 {
    let outcome = Outcome { result: client.call(&request), request };
    let log = UserLog::new(&global.log_dir);
    if let Err(error) = log.record(user, &outcome) {
        eprintln!("cineflix: warning: cannot write {}: {error}", log.path(user).display());
    }
    let (out, err) = outcome.render_text();
    let mut stdout = std::io::stdout().lock();
    let written =
        if global.json { stdout.write_all(outcome.render_json().as_bytes()) } else { stdout.write_all(out.as_bytes()) };
    if written.and_then(|()| stdout.flush()).is_err() {
        return EXIT_FAULT;
    }
    eprint!("{err}");
    outcome.exit_code()
}

/// The request a one-shot subcommand asks for, or a usage error.
fn request_for(command: Command) -> Result<(UserId, booking::Request), String> {
    use booking::Operation;
    let (user, operation) = match command {
        Command::AddSlots { user, slot, capacity } => (
            UserId::parse(&user.user)?,
            Operation::AddMovieSlots { movie_id: slot.movie_id, movie_name: slot.movie, booking_capacity: capacity },
        ),
        Command::RemoveSlots { user, slot } => (
            UserId::parse(&user.user)?,
            Operation::RemoveMovieSlots { movie_id: slot.movie_id, movie_name: slot.movie },
        ),
        Command::ListShows { user, movie } => {
            (UserId::parse(&user.user)?, Operation::ListMovieShowsAvailability { movie_name: movie })
        }
        Command::Book { customer, slot, tickets } => {
            let (user, customer_id) = customer_of(customer)?;
            let operation = Operation::BookMovieTickets {
                customer_id,
                movie_id: slot.movie_id,
                movie_name: slot.movie,
                number_of_tickets: tickets,
            };
            (user, operation)
        }
        Command::Schedule { customer } => {
            let (user, customer_id) = customer_of(customer)?;
            (user, Operation::GetBookingSchedule { customer_id })
        }
        Command::Cancel { customer, slot, tickets } => {
            let (user, customer_id) = customer_of(customer)?;
            let operation = Operation::CancelMovieTickets {
                customer_id,
                movie_id: slot.movie_id,
                movie_name: slot.movie,
                number_of_tickets: tickets,
            };
            (user, operation)
        }
        Command::Exchange { customer, slot, new_movie_id, new_movie, tickets } => {
            let (user, customer_id) = customer_of(customer)?;
            let operation = Operation::ExchangeTickets {
                customer_id,
                movie_id: slot.movie_id,
                movie_name: slot.movie,
                new_movie_id,
                new_movie_name: new_movie,
                number_of_tickets: tickets,
            };
            (user, operation)
        }
        Command::Interactive
        | Command::Bench(_)
        | Command::Status(_)
        | Command::Fault(_)
        | Command::Compare(_)
        | Command::Chaos(_)
        | Command::Demo(_)
        | Command::Grade(_) => {
            unreachable!("handled before building a one-shot request")
        }
    };
    let request = booking::Request { user_id: user.as_str().to_owned(), operation };
    Ok((user, request))
}

/// The caller and whose bookings a customer operation is about.
fn customer_of(args: CustomerArgs) -> Result<(UserId, String), String> {
    let user = UserId::parse(&args.user)?;
    let customer = resolve_customer(&user, args.customer)?;
    Ok((user, customer))
}

/// Customers act for themselves by default; admins must name the customer. The service
/// decides whether the caller may act for that customer (`NOT_AUTHORIZED`).
pub fn resolve_customer(user: &UserId, customer: Option<String>) -> Result<String, String> {
    match (customer, user.role()) {
        (Some(customer), _) => Ok(customer.trim().to_owned()),
        (None, Role::Customer) => Ok(user.as_str().to_owned()),
        (None, Role::Admin) => Err(format!(
            "{user} is an admin: pass --customer CUSTOMERID to act on behalf of a customer of {}",
            user.theatre()
        )),
    }
}
