//! System tests of the real `cineflix` binary against an in-test SOAP server
//! (`fake_server`): every operation's output, `--json`, exit codes (0 success, 1 rejection,
//! 2 fault or transport error, 64 usage), per-user log files, the interactive mode fed
//! through a pipe, and a short load-generator run.
//!
//! They deliberately assert no timing: the bench test checks that a run completes and
//! reports, not how fast it is.

mod fake_server;

use fake_server::{FakeServer, Mode};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A fresh directory for one test's log files.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cineflix-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs `cineflix` with `--endpoint` and `--log-dir` and the given arguments.
fn cineflix(server: &str, log_dir: &PathBuf, args: &[&str]) -> Output {
    cineflix_with_input(server, log_dir, args, None)
}

fn cineflix_with_input(server: &str, log_dir: &PathBuf, args: &[&str], input: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cineflix"))
        .arg("--endpoint")
        .arg(server)
        .arg("--log-dir")
        .arg(log_dir)
        .args(args)
        .env_remove("CINEFLIX_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cineflix");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    child.wait_with_output().expect("wait for cineflix")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Asserts the exit code, showing both streams when it is wrong.
fn expect_exit(output: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(code), "stdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// A movie ID of `theatre` and slot `letter`, `days` from today in Montreal.
fn movie_id(theatre: &str, letter: char, days: i32) -> String {
    let today = booking::time::today(jiff::Timestamp::now().as_millisecond(), &booking::time::montreal());
    format!("{theatre}{letter}{}", today.plus_days(days).ddmmyy())
}

#[test]
fn a_day_of_admin_and_customer_commands() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("day");
    let morning = movie_id("ATW", 'M', 1);
    let evening = movie_id("ATW", 'E', 1);

    for slot in [&morning, &evening] {
        let output = cineflix(
            &server.url,
            &logs,
            &["add-slots", "--user", "atwa0001", "--movie-id", slot, "--movie", "avatar", "--capacity", "5"],
        );
        let (stdout, _) = expect_exit(&output, 0);
        assert!(stdout.starts_with("✓ OK: "), "{stdout}");
    }

    let output = cineflix(
        &server.url,
        &logs,
        &["book", "--user", "ATWC0001", "--movie-id", &morning, "--movie", "Avatar", "--tickets", "2"],
    );
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.starts_with("✓ OK: "), "{stdout}");

    // An admin books on behalf of a customer of their theatre.
    let output = cineflix(
        &server.url,
        &logs,
        &[
            "book",
            "--user",
            "ATWA0001",
            "--customer",
            "ATWC0002",
            "--movie-id",
            &morning,
            "--movie",
            "Avatar",
            "--tickets",
            "1",
        ],
    );
    expect_exit(&output, 0);

    let output = cineflix(&server.url, &logs, &["list-shows", "--user", "OUTC0009", "--movie", "AVATAR"]);
    let (stdout, _) = expect_exit(&output, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "result line, header, two shows:\n{stdout}");
    assert!(lines[1].starts_with("MOVIE ID "), "{stdout}");
    let morning_row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(morning_row[0], morning);
    assert_eq!(&morning_row[1..3], ["Avatar", "ATW"]);
    assert_eq!(&morning_row[4..], ["MORNING", "5", "2"], "capacity 5, 3 booked: {stdout}");
    let evening_row: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!((evening_row[0], evening_row[6]), (evening.as_str(), "5"));
    // Columns are aligned: every row's second column starts where the header's does.
    let (column, _) = lines[1].match_indices("MOVIE").nth(1).expect("a MOVIE column");
    assert!(lines[2..].iter().all(|line| line[column..].starts_with("Avatar")), "{stdout}");

    let output = cineflix(
        &server.url,
        &logs,
        &[
            "exchange",
            "--user",
            "ATWC0001",
            "--movie-id",
            &morning,
            "--movie",
            "Avatar",
            "--new-movie-id",
            &evening,
            "--new-movie",
            "Avatar",
            "--tickets",
            "1",
        ],
    );
    expect_exit(&output, 0);

    let output = cineflix(&server.url, &logs, &["schedule", "--user", "ATWC0001"]);
    let (stdout, _) = expect_exit(&output, 0);
    let rows: Vec<Vec<&str>> = stdout.lines().skip(2).map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!((rows[0][0], rows[0][5]), (morning.as_str(), "1"));
    assert_eq!((rows[1][0], rows[1][4], rows[1][5]), (evening.as_str(), "EVENING", "1"));

    let output = cineflix(
        &server.url,
        &logs,
        &["cancel", "--user", "ATWC0001", "--movie-id", &evening, "--movie", "Avatar", "--tickets", "1"],
    );
    expect_exit(&output, 0);

    // Removing the morning slot moves both remaining bookings to the evening slot.
    let output = cineflix(
        &server.url,
        &logs,
        &["remove-slots", "--user", "ATWA0001", "--movie-id", &morning, "--movie", "Avatar"],
    );
    let (stdout, _) = expect_exit(&output, 0);
    let moved: Vec<&str> = stdout.lines().skip(2).collect();
    assert_eq!(moved.len(), 2, "{stdout}");
    assert!(moved[0].starts_with("ATWC0001") && moved[0].ends_with(&format!("moved to {evening}")), "{stdout}");
    assert!(moved[1].starts_with("ATWC0002"), "{stdout}");

    // The customer's schedule after all that.
    let output = cineflix(&server.url, &logs, &["--json", "schedule", "--user", "ATWC0001"]);
    let (stdout, _) = expect_exit(&output, 0);
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    assert!(stdout.starts_with(r#"{"operation":"getBookingSchedule","userID":"ATWC0001","#), "{stdout}");
    assert!(stdout.contains(r#""success":true,"code":"OK""#), "{stdout}");
    assert!(
        stdout.contains(&format!(r#""bookings":[{{"movieID":"{evening}","theatre":"ATW","#)),
        "the moved ticket is in the evening slot: {stdout}"
    );
    assert!(stdout.contains(r#""slot":"EVENING","movieName":"Avatar","tickets":1}]"#), "{stdout}");
}

#[test]
fn rejections_exit_1_with_the_code() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("rejections");
    let slot = movie_id("VER", 'A', 2);
    let output = cineflix(
        &server.url,
        &logs,
        &["add-slots", "--user", "VERA0001", "--movie-id", &slot, "--movie", "Titanic", "--capacity", "3"],
    );
    expect_exit(&output, 0);

    let output = cineflix(
        &server.url,
        &logs,
        &["book", "--user", "VERC0001", "--movie-id", &slot, "--movie", "Titanic", "--tickets", "4"],
    );
    let (stdout, stderr) = expect_exit(&output, 1);
    assert!(stdout.starts_with("✗ SOLD_OUT: "), "{stdout}");
    assert_eq!(stderr, "");

    let output = cineflix(&server.url, &logs, &["--json", "list-shows", "--user", "VERC0001", "--movie", "Matrix"]);
    let (stdout, _) = expect_exit(&output, 1);
    assert!(stdout.contains(r#""success":false,"code":"UNKNOWN_MOVIE""#), "{stdout}");

    // An admin may not add slots to another theatre; a negative quantity reaches the service.
    let output = cineflix(
        &server.url,
        &logs,
        &["add-slots", "--user", "ATWA0001", "--movie-id", &slot, "--movie", "Titanic", "--capacity", "3"],
    );
    assert!(expect_exit(&output, 1).0.starts_with("✗ NOT_AUTHORIZED: "));
    let output = cineflix(
        &server.url,
        &logs,
        &["cancel", "--user", "VERC0001", "--movie-id", &slot, "--movie", "Titanic", "--tickets", "-1"],
    );
    assert!(expect_exit(&output, 1).0.starts_with("✗ INVALID_QUANTITY: "));
}

#[test]
fn usage_errors_exit_64_and_send_nothing() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("usage");
    let slot = movie_id("ATW", 'M', 1);

    let output = cineflix(
        &server.url,
        &logs,
        &["book", "--user", "ATWA0001", "--movie-id", &slot, "--movie", "Avatar", "--tickets", "1"],
    );
    let (stdout, stderr) = expect_exit(&output, 64);
    assert_eq!(stdout, "");
    assert!(stderr.contains("--customer"), "tells the admin what is missing: {stderr}");

    let output = cineflix(&server.url, &logs, &["schedule", "--user", "ATWX0001"]);
    let (_, stderr) = expect_exit(&output, 64);
    assert!(stderr.contains("fourth character must be A or C"), "{stderr}");

    let output = cineflix(&server.url, &logs, &["book", "--user", "ATWC0001", "--movie", "Avatar"]);
    expect_exit(&output, 64);
    let output = cineflix(&server.url, &logs, &["frobnicate"]);
    expect_exit(&output, 64);
    let output = cineflix(&server.url, &logs, &[]);
    expect_exit(&output, 64);
    let output = cineflix("ftp://127.0.0.1/cineflix", &logs, &["schedule", "--user", "ATWC0001"]);
    expect_exit(&output, 64);
    let output = cineflix(&server.url, &logs, &["bench", "--mix", "dance=3"]);
    expect_exit(&output, 64);

    assert_eq!(server.requests(), 0, "usage errors are caught before anything is sent");

    let output = cineflix(&server.url, &logs, &["--help"]);
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.contains("Exit codes:") && stdout.contains("64"), "{stdout}");
}

#[test]
fn faults_and_transport_errors_exit_2() {
    let logs = scratch_dir("faults");
    let server = FakeServer::start(Mode::AlwaysFault);
    let output = cineflix(&server.url, &logs, &["schedule", "--user", "OUTC0001"]);
    let (stdout, stderr) = expect_exit(&output, 2);
    assert_eq!(stdout, "");
    assert!(stderr.contains("SOAP fault SERVICE_UNAVAILABLE") && stderr.contains("no agreeing majority"), "{stderr}");

    let output = cineflix(&server.url, &logs, &["--soap", "1.2", "--json", "schedule", "--user", "OUTC0001"]);
    let (stdout, _) = expect_exit(&output, 2);
    assert!(stdout.contains(r#""error":{"kind":"fault","code":"SERVICE_UNAVAILABLE","#), "{stdout}");

    let not_found = FakeServer::start(Mode::NotFound);
    let output = cineflix(&not_found.url, &logs, &["schedule", "--user", "OUTC0001"]);
    let (_, stderr) = expect_exit(&output, 2);
    assert!(stderr.contains("HTTP 404"), "{stderr}");

    // A port nobody listens on: bind one, then close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/cineflix", closed.local_addr().expect("address"));
    drop(closed);
    let output = cineflix(&url, &logs, &["schedule", "--user", "OUTC0001"]);
    let (_, stderr) = expect_exit(&output, 2);
    assert!(stderr.contains("transport error"), "{stderr}");

    // Faults are logged too.
    let log = std::fs::read_to_string(logs.join("OUTC0001.log")).expect("the user's log file");
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(log.lines().all(|line| line.contains("getBookingSchedule customerID=OUTC0001 => ERROR")), "{log}");
}

#[test]
fn soap_12_works_end_to_end() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("soap12");
    let output = cineflix(&server.url, &logs, &["--soap", "1.2", "schedule", "--user", "OUTC0001"]);
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.starts_with("✓ OK: ") && stdout.ends_with("(no bookings)\n"), "{stdout}");
}

#[test]
fn each_user_has_one_log_file() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("logs");
    let slot = movie_id("OUT", 'E', 3);
    expect_exit(
        &cineflix(
            &server.url,
            &logs,
            &["add-slots", "--user", "OUTA0007", "--movie-id", &slot, "--movie", "Avengers", "--capacity", "9"],
        ),
        0,
    );
    expect_exit(
        &cineflix(
            &server.url,
            &logs,
            &["book", "--user", "outc0003", "--movie-id", &slot, "--movie", "Avengers", "--tickets", "20"],
        ),
        1,
    );
    expect_exit(
        &cineflix(
            &server.url,
            &logs,
            &["book", "--user", "OUTC0003", "--movie-id", &slot, "--movie", "Avengers", "--tickets", "2"],
        ),
        0,
    );

    let mut files: Vec<String> = std::fs::read_dir(&logs)
        .expect("log dir")
        .map(|entry| entry.expect("entry").file_name().into_string().expect("UTF-8 name"))
        .collect();
    files.sort();
    assert_eq!(files, ["OUTA0007.log", "OUTC0003.log"]);

    let customer_log = std::fs::read_to_string(logs.join("OUTC0003.log")).expect("read log");
    let lines: Vec<&str> = customer_log.lines().collect();
    assert_eq!(lines.len(), 2, "{customer_log}");
    let expected_request =
        format!("bookMovieTickets customerID=OUTC0003 movieID={slot} movieName=Avengers numberOfTickets=20");
    assert!(lines[0].contains(&expected_request), "{customer_log}");
    assert!(lines[0].contains("=> failure SOLD_OUT"), "{customer_log}");
    assert!(lines[1].contains("numberOfTickets=2 => success OK"), "{customer_log}");
    // Each entry starts with the date and time.
    let today = jiff::Zoned::now().date().to_string();
    assert!(lines.iter().all(|line| line.starts_with(&today[..4])), "{customer_log}");
}

#[test]
fn interactive_customer_session_from_a_pipe() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("interactive-customer");
    let slot = movie_id("ATW", 'A', 1);
    expect_exit(
        &cineflix(
            &server.url,
            &logs,
            &["add-slots", "--user", "ATWA0001", "--movie-id", &slot, "--movie", "Titanic", "--capacity", "4"],
        ),
        0,
    );

    // A bad ID, a good one, book (with a non-number first), schedule, an off-menu choice, quit.
    let script = format!("ATWB0001\natwc0005\n1\n{slot}\ntitanic\ntwo\n3\n2\n9\nq\n");
    let output = cineflix_with_input(&server.url, &logs, &["interactive"], Some(&script));
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.contains("is not a user ID: the fourth character must be A or C"), "{stdout}");
    assert!(stdout.contains("Welcome, ATWC0005 (customer of ATW)"), "{stdout}");
    assert!(stdout.contains("1) Book movie tickets") && !stdout.contains("Add movie slots"), "{stdout}");
    assert!(stdout.contains("\"two\" is not a whole number"), "{stdout}");
    assert!(stdout.contains("✓ OK: "), "{stdout}");
    assert!(stdout.contains("\"9\" is not on the menu"), "{stdout}");
    let schedule_row = stdout.lines().find(|line| line.starts_with(&slot)).expect("the schedule lists the booking");
    let cells: Vec<&str> = schedule_row.split_whitespace().collect();
    assert_eq!((cells[1], cells[2], cells[4], cells[5]), ("Titanic", "ATW", "AFTERNOON", "3"), "{schedule_row}");
    assert!(stdout.ends_with("Goodbye.\n"), "{stdout}");

    let log = std::fs::read_to_string(logs.join("ATWC0005.log")).expect("log");
    assert!(
        log.contains("session started") && log.contains("bookMovieTickets") && log.contains("getBookingSchedule"),
        "{log}"
    );
}

#[test]
fn interactive_admin_session_ends_at_end_of_input() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("interactive-admin");
    let slot = movie_id("VER", 'M', 2);
    // Add a slot, book for a customer, then log out, log in as another user and hit EOF.
    let script =
        format!("VERA0002\n1\n{slot}\nAvengers\n10\n4\nVERC0077\n{slot}\nAvengers\n2\n3\nAvengers\nl\nOUTC0001\n");
    let output = cineflix_with_input(&server.url, &logs, &["interactive"], Some(&script));
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.contains("Welcome, VERA0002 (admin of VER)"), "{stdout}");
    assert!(stdout.contains("Customer ID (a customer of VER): "), "{stdout}");
    assert_eq!(stdout.matches("✓ OK: ").count(), 3, "add, book, list: {stdout}");
    let row = stdout.lines().find(|line| line.starts_with(&slot)).expect("the listing shows the slot");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[5..], ["10", "8"], "capacity 10, available 8: {row:?}");
    assert!(stdout.contains("Welcome, OUTC0001 (customer of OUT)"), "{stdout}");
    assert!(logs.join("VERA0002.log").exists() && logs.join("OUTC0001.log").exists());
}

#[test]
fn bench_runs_and_reports() {
    let server = FakeServer::start(Mode::Replica);
    let logs = scratch_dir("bench");
    let output = cineflix(
        &server.url,
        &logs,
        &[
            "--json",
            "bench",
            "--connections",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--mix",
            "list=1,book=4,schedule=1,cancel=2,exchange=2",
        ],
    );
    let (stdout, stderr) = expect_exit(&output, 0);
    assert!(stderr.contains("setup: 18 slots"), "{stderr}");
    assert!(stderr.contains("req/s"), "progress lines: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let requests = json_number(&stdout, "requests");
    assert!(requests > 0.0, "{stdout}");
    assert_eq!(json_number(&stdout, "errors_total"), 0.0, "{stdout}");
    let p50 = json_number(&stdout, "p50");
    let p99 = json_number(&stdout, "p99");
    let max = json_number(&stdout, "max");
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{stdout}");
    for kind in ["list", "book", "schedule", "cancel", "exchange"] {
        assert!(stdout.contains(&format!(r#""{kind}":"#)), "{stdout}");
    }
    // The bench writes no per-user logs.
    assert_eq!(std::fs::read_dir(&logs).expect("dir").count(), 0);

    // Text report, against slots that now exist, without setup.
    let output = cineflix(
        &server.url,
        &logs,
        &["bench", "--no-setup", "--threads", "2", "--connections", "2", "--duration", "300ms", "--warmup", "100ms"],
    );
    let (stdout, _) = expect_exit(&output, 0);
    assert!(stdout.contains("requests:") && stdout.contains("latency µs:") && stdout.contains("p99.9="), "{stdout}");
}

#[test]
fn bench_against_a_faulting_server_reports_errors_and_exits_2() {
    let server = FakeServer::start(Mode::AlwaysFault);
    let logs = scratch_dir("bench-faults");
    let output = cineflix(
        &server.url,
        &logs,
        &["bench", "--no-setup", "--connections", "1", "--duration", "200ms", "--warmup", "0s"],
    );
    let (stdout, _) = expect_exit(&output, 2);
    assert!(stdout.contains("fault_SERVICE_UNAVAILABLE="), "{stdout}");
    let output = cineflix(&server.url, &logs, &["bench", "--setup", "--connections", "1", "--duration", "200ms"]);
    let (_, stderr) = expect_exit(&output, 2);
    assert!(stderr.contains("setup failed"), "{stderr}");
}

/// The number after `"key":` in a one-line JSON object (first occurrence).
fn json_number(json: &str, key: &str) -> f64 {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern).unwrap_or_else(|| panic!("no {key} in {json}")) + pattern.len();
    let end = json[start..].find([',', '}']).map(|end| start + end).expect("number ends");
    json[start..end].parse().unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}
