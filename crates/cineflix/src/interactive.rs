//! `cineflix interactive`: asks for a user ID, then offers the numbered menu of that
//! role's operations, prompts for each field and prints the answer, until `q` or the end
//! of input.
//!
//! It reads lines, not keystrokes, so it works the same on a terminal and on a pipe (tests
//! feed it a script of answers). It checks only what a prompt can check locally (the
//! shape of a user ID, that a number is a number); booking rules stay with the service.

use crate::client::Client;
use crate::outcome::Outcome;
use crate::userid::{Role, UserId};
use crate::userlog::UserLog;
use booking::{Operation, Request};
use std::io::{BufRead, Write};

/// The operations a menu can offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    AddSlots,
    RemoveSlots,
    ListShows,
    Book,
    Schedule,
    Cancel,
    Exchange,
}

const ADMIN_MENU: [(Action, &str); 7] = [
    (Action::AddSlots, "Add movie slots (or change a slot's capacity)"),
    (Action::RemoveSlots, "Remove movie slots"),
    (Action::ListShows, "List movie shows availability"),
    (Action::Book, "Book movie tickets for a customer"),
    (Action::Schedule, "Get a customer's booking schedule"),
    (Action::Cancel, "Cancel movie tickets for a customer"),
    (Action::Exchange, "Exchange tickets for a customer"),
];

const CUSTOMER_MENU: [(Action, &str); 5] = [
    (Action::Book, "Book movie tickets"),
    (Action::Schedule, "Get my booking schedule"),
    (Action::Cancel, "Cancel movie tickets"),
    (Action::Exchange, "Exchange tickets"),
    (Action::ListShows, "List movie shows availability"),
];

/// End of input or `q`: the session is over.
#[derive(Debug)]
struct Quit;

/// The prompting side of a session: reads answers from `input`, writes to `output`.
struct Prompter<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    fn say(&mut self, text: &str) {
        // A closed output (e.g. `| head`) must not abort the session with a panic; the
        // next read ends it instead.
        let _ = self.output.write_all(text.as_bytes());
        let _ = self.output.flush();
    }

    /// Asks once; `None` at end of input.
    fn ask_raw(&mut self, prompt: &str) -> Option<String> {
        self.say(prompt);
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                self.say("\n");
                None
            }
            Ok(_) => Some(line.trim().to_owned()),
        }
    }

    /// Asks until the answer is not empty.
    fn ask(&mut self, prompt: &str) -> Result<String, Quit> {
        loop {
            let answer = self.ask_raw(prompt).ok_or(Quit)?;
            if !answer.is_empty() {
                return Ok(answer);
            }
            self.say("  Please enter a value.\n");
        }
    }

    /// Asks until the answer is a whole number (range checks are the service's).
    fn ask_number(&mut self, prompt: &str) -> Result<i32, Quit> {
        loop {
            let answer = self.ask(prompt)?;
            match answer.parse::<i32>() {
                Ok(number) => return Ok(number),
                Err(_) => self.say(&format!("  {answer:?} is not a whole number; try again.\n")),
            }
        }
    }

    /// Asks until the answer is a user ID of the right shape, or `q`.
    fn ask_user(&mut self, prompt: &str) -> Result<UserId, Quit> {
        loop {
            let answer = self.ask(prompt)?;
            if answer.eq_ignore_ascii_case("q") {
                return Err(Quit);
            }
            match UserId::parse(&answer) {
                Ok(user) => return Ok(user),
                Err(message) => self.say(&format!("  {message}\n")),
            }
        }
    }
}

/// Runs a session; returns the process exit code (0: the user quit or input ended).
pub fn run<R: BufRead, W: Write>(client: &Client, log: &UserLog, input: R, output: W) -> u8 {
    let mut prompter = Prompter { input, output };
    prompter.say(&format!(
        "CineFlix client, endpoint {} (SOAP {}). Enter q to quit.\n",
        client.endpoint.url,
        match client.version {
            soap::SoapVersion::V11 => "1.1",
            soap::SoapVersion::V12 => "1.2",
        }
    ));
    loop {
        let Ok(user) = prompter.ask_user("User ID: ") else { return 0 };
        let role_name = match user.role() {
            Role::Admin => "admin",
            Role::Customer => "customer",
        };
        prompter.say(&format!(
            "Welcome, {user} ({role_name} of {}). Your actions are logged in {}\n",
            user.theatre(),
            log.path(&user).display()
        ));
        let _ = log.note(&user, "session started");
        let ended = session(client, log, &mut prompter, &user);
        let _ = log.note(&user, "session ended");
        match ended {
            SessionEnd::LogOut => continue,
            SessionEnd::Quit => {
                prompter.say("Goodbye.\n");
                return 0;
            }
        }
    }
}

enum SessionEnd {
    LogOut,
    Quit,
}

fn session<R: BufRead, W: Write>(
    client: &Client,
    log: &UserLog,
    prompter: &mut Prompter<R, W>,
    user: &UserId,
) -> SessionEnd {
    let menu: &[(Action, &str)] = match user.role() {
        Role::Admin => &ADMIN_MENU,
        Role::Customer => &CUSTOMER_MENU,
    };
    loop {
        let mut text = String::from("\n");
        for (index, (_, label)) in menu.iter().enumerate() {
            text.push_str(&format!("  {}) {label}\n", index + 1));
        }
        text.push_str("  l) Log out (another user ID)\n  q) Quit\n");
        prompter.say(&text);
        let Some(choice) = prompter.ask_raw("Choice: ") else { return SessionEnd::Quit };
        let action = match choice.to_ascii_lowercase().as_str() {
            "q" | "quit" | "exit" => return SessionEnd::Quit,
            "l" | "logout" => return SessionEnd::LogOut,
            "" => continue,
            number => match number.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| menu.get(i)) {
                Some((action, _)) => *action,
                None => {
                    prompter.say(&format!("  {choice:?} is not on the menu: enter 1-{}, l or q.\n", menu.len()));
                    continue;
                }
            },
        };
        let Ok(operation) = prompt_operation(prompter, user, action) else { return SessionEnd::Quit };
        let request = Request { user_id: user.as_str().to_owned(), operation };
        let outcome = Outcome { result: client.call(&request), request };
        if let Err(error) = log.record(user, &outcome) {
            prompter.say(&format!("  warning: cannot write {}: {error}\n", log.path(user).display()));
        }
        let (out, err) = outcome.render_text();
        prompter.say(&out);
        prompter.say(&err);
    }
}

/// Prompts for the fields of `action`.
fn prompt_operation<R: BufRead, W: Write>(
    prompter: &mut Prompter<R, W>,
    user: &UserId,
    action: Action,
) -> Result<Operation, Quit> {
    let customer = |prompter: &mut Prompter<R, W>| -> Result<String, Quit> {
        match user.role() {
            Role::Customer => Ok(user.as_str().to_owned()),
            Role::Admin => prompter.ask(&format!("Customer ID (a customer of {}): ", user.theatre())),
        }
    };
    Ok(match action {
        Action::AddSlots => Operation::AddMovieSlots {
            movie_id: prompter.ask("Movie ID (e.g. ATWM281126): ")?,
            movie_name: prompter.ask("Movie name (Avatar, Avengers, Titanic): ")?,
            booking_capacity: prompter.ask_number("Booking capacity: ")?,
        },
        Action::RemoveSlots => Operation::RemoveMovieSlots {
            movie_id: prompter.ask("Movie ID: ")?,
            movie_name: prompter.ask("Movie name: ")?,
        },
        Action::ListShows => Operation::ListMovieShowsAvailability {
            movie_name: prompter.ask("Movie name (Avatar, Avengers, Titanic): ")?,
        },
        Action::Book => Operation::BookMovieTickets {
            customer_id: customer(prompter)?,
            movie_id: prompter.ask("Movie ID (e.g. ATWM281126): ")?,
            movie_name: prompter.ask("Movie name: ")?,
            number_of_tickets: prompter.ask_number("Number of tickets: ")?,
        },
        Action::Schedule => Operation::GetBookingSchedule { customer_id: customer(prompter)? },
        Action::Cancel => Operation::CancelMovieTickets {
            customer_id: customer(prompter)?,
            movie_id: prompter.ask("Movie ID: ")?,
            movie_name: prompter.ask("Movie name: ")?,
            number_of_tickets: prompter.ask_number("Number of tickets to cancel: ")?,
        },
        Action::Exchange => Operation::ExchangeTickets {
            customer_id: customer(prompter)?,
            movie_id: prompter.ask("Current movie ID: ")?,
            movie_name: prompter.ask("Current movie name: ")?,
            new_movie_id: prompter.ask("New movie ID: ")?,
            new_movie_name: prompter.ask("New movie name: ")?,
            number_of_tickets: prompter.ask_number("Number of tickets to exchange: ")?,
        },
    })
}
