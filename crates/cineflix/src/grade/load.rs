//! Client load whose every answer is known in advance, for the failure cases, and a starting-gun race of many
//! requests at once, for the concurrency cases.
//!
//! A load worker owns one fresh customer and one private slot and repeats a cycle over its own keep-alive
//! connection: book 1 (OK), schedule (exactly that booking, 1 ticket), cancel 1 (OK), schedule (empty). Nobody else
//! touches that customer or slot, so the right answer to every request is known: any other answer is a *wrong*
//! answer that reached a client (a lie that got through the vote, or a request applied twice), and any fault,
//! timeout or transport error is a *failed* request. After a failed or wrong answer the worker reads its schedule to
//! learn where it stands and carries on.
//!
//! Deliberately not here: choosing the customers and slots (the `Target` does) or judging the counts (the cases
//! do).

use crate::client::{self, CallError, Connection, Endpoint, RequestHead};
use booking::{Body, Operation, Request, Response, ResultCode, ScheduleEntry, Slot};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// One worker's customer and slot.
#[derive(Clone, Debug)]
pub struct Worker {
    pub customer: String,
    pub slot: Slot,
}

/// What a load saw.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub requests: u64,
    /// Faults, timeouts, transport errors.
    pub failed: u64,
    /// Answers other than the known right one.
    pub wrong: u64,
    /// The first few problems, for the report.
    pub problems: Vec<String>,
}

const PROBLEMS_KEPT: usize = 5;

/// A running load; stop it to get the report.
pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<LoadReport>,
}

impl Load {
    pub fn start(endpoint: Endpoint, version: soap::SoapVersion, workers: Vec<Worker>, timeout: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            let answered = answered.clone();
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for worker in workers {
                        let (endpoint, stop, answered) = (endpoint.clone(), stop.clone(), answered.clone());
                        tasks.spawn(run_worker(endpoint, version, worker, timeout, stop, answered));
                    }
                    let mut total = LoadReport::default();
                    while let Some(report) = tasks.join_next().await {
                        let report = report.unwrap_or_else(|error| LoadReport {
                            failed: 1,
                            problems: vec![format!("a load worker panicked: {error}")],
                            ..LoadReport::default()
                        });
                        total.requests += report.requests;
                        total.failed += report.failed;
                        total.wrong += report.wrong;
                        for problem in report.problems {
                            if total.problems.len() < PROBLEMS_KEPT {
                                total.problems.push(problem);
                            }
                        }
                    }
                    total
                })
            }
        });
        Load { stop, answered, thread }
    }

    /// Requests answered so far (right or wrong).
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until `count` requests were answered, the bound passes, or the load thread ended.
    pub fn wait_answered(&self, count: u64, bound: Duration) -> bool {
        let deadline = std::time::Instant::now() + bound;
        while self.answered() < count {
            if std::time::Instant::now() >= deadline || self.thread.is_finished() {
                return false;
            }
            std::thread::sleep(super::target::POLL_INTERVAL);
        }
        true
    }

    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_else(|_| LoadReport {
            failed: 1,
            problems: vec!["the load thread panicked".into()],
            ..LoadReport::default()
        })
    }
}

/// One request on a keep-alive connection, reconnecting when there is none.
pub async fn call(
    connection: &mut Option<Connection>,
    endpoint: &Endpoint,
    head: &mut RequestHead,
    version: soap::SoapVersion,
    request: &Request,
    timeout: Duration,
) -> Result<Response, CallError> {
    let work = async {
        if connection.is_none() {
            *connection = Some(client::connect(endpoint).await?);
        }
        let envelope = Bytes::from(soap::build_request(version, request));
        let sent =
            client::send(connection.as_mut().expect("connected"), head, request.operation.name(), envelope).await;
        if sent.is_err() {
            *connection = None;
        }
        let (status, body) = sent?;
        client::interpret(status, &body).map(|answer| answer.response)
    };
    let outcome = tokio::time::timeout(timeout, work).await;
    match outcome {
        Ok(result) => result,
        Err(_) => {
            *connection = None;
            Err(CallError::Timeout(timeout))
        }
    }
}

fn schedule_of(worker: &Worker, tickets: u32) -> Response {
    let entries = if tickets == 0 {
        Vec::new()
    } else {
        vec![ScheduleEntry { movie_id: worker.slot.movie_id, movie: worker.slot.movie, tickets }]
    };
    Response::ok(Body::Schedule(entries))
}

async fn run_worker(
    endpoint: Endpoint,
    version: soap::SoapVersion,
    worker: Worker,
    timeout: Duration,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> LoadReport {
    let mut report = LoadReport::default();
    let Ok(mut head) = RequestHead::new(&endpoint, version) else {
        report.failed += 1;
        report.problems.push("cannot build the HTTP request head".into());
        return report;
    };
    let mut connection = None;
    let (movie_id, movie_name) = (worker.slot.movie_id.to_string(), worker.slot.movie.to_string());
    let customer = worker.customer.clone();
    let request = |operation: Operation| Request { user_id: customer.clone(), operation };
    let book = request(Operation::BookMovieTickets {
        customer_id: customer.clone(),
        movie_id: movie_id.clone(),
        movie_name: movie_name.clone(),
        number_of_tickets: 1,
    });
    let cancel = request(Operation::CancelMovieTickets {
        customer_id: customer.clone(),
        movie_id,
        movie_name,
        number_of_tickets: 1,
    });
    let schedule = request(Operation::GetBookingSchedule { customer_id: customer.clone() });
    let ok = Response::ok(Body::Empty);
    // Tickets held now, as far as the worker knows.
    let mut held = 0;
    while !stop.load(Ordering::Relaxed) {
        let (sent, expected) = match held {
            0 => (&book, ok.clone()),
            _ => (&cancel, ok.clone()),
        };
        let mut step = vec![(sent, expected)];
        step.push((&schedule, schedule_of(&worker, if held == 0 { 1 } else { 0 })));
        let mut in_doubt = false;
        for (sent, expected) in step {
            report.requests += 1;
            let result = call(&mut connection, &endpoint, &mut head, version, sent, timeout).await;
            answered.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(response) if response == expected => {}
                Ok(response) => {
                    report.wrong += 1;
                    if report.problems.len() < PROBLEMS_KEPT {
                        report.problems.push(format!(
                            "{} by {customer}: expected {:?}, got {:?}",
                            sent.operation.name(),
                            expected,
                            response
                        ));
                    }
                    in_doubt = true;
                    break;
                }
                Err(error) => {
                    report.failed += 1;
                    if report.problems.len() < PROBLEMS_KEPT {
                        report.problems.push(format!("{} by {customer}: {error}", sent.operation.name()));
                    }
                    in_doubt = true;
                    break;
                }
            }
        }
        if in_doubt {
            // Learn the real state (retrying until the service answers or the load stops).
            loop {
                if stop.load(Ordering::Relaxed) {
                    return report;
                }
                if let Ok(Response { code: ResultCode::Ok, body: Body::Schedule(entries) }) =
                    call(&mut connection, &endpoint, &mut head, version, &schedule, timeout).await
                {
                    held = entries.iter().find(|entry| entry.movie_id == worker.slot.movie_id).map_or(0, |e| e.tickets);
                    break;
                }
            }
        } else {
            held = if held == 0 { 1 } else { 0 };
        }
    }
    report
}

/// Sends every request at once, each on its own connection opened beforehand, and returns the answers in order.
pub fn race(
    endpoint: &Endpoint,
    version: soap::SoapVersion,
    requests: Vec<Request>,
    timeout: Duration,
) -> Result<Vec<Result<Response, CallError>>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let mut ready = Vec::new();
        for request in requests {
            let connection = client::connect(endpoint).await.map_err(|error| error.to_string())?;
            let head = RequestHead::new(endpoint, version).map_err(|error| error.to_string())?;
            ready.push((request, connection, head));
        }
        let gun = Arc::new(tokio::sync::Barrier::new(ready.len()));
        let mut tasks = Vec::new();
        for (request, connection, mut head) in ready {
            let (gun, endpoint) = (gun.clone(), endpoint.clone());
            tasks.push(tokio::spawn(async move {
                let mut connection = Some(connection);
                gun.wait().await;
                call(&mut connection, &endpoint, &mut head, version, &request, timeout).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.map_err(|error| format!("a racer panicked: {error}"))?);
        }
        Ok(answers)
    })
}
