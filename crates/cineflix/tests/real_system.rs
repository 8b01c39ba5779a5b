//! The real `cineflix` binary against the real standalone system: `cineflix-replica` (three
//! theatre servers over UDP) behind `cineflix-frontend`, started as processes on loopback
//! ephemeral ports with a generated configuration.
//!
//! The two programs belong to other packages, so Cargo cannot hand their paths to this test;
//! it looks for them next to the `cineflix` binary (same target directory and profile).
//! `cargo test --workspace` builds them (their packages have integration tests); with
//! `cargo test -p cineflix` alone, run `cargo build -p frontend -p theatre-servers` (same
//! profile) first. When they are missing the test fails and says so: it never skips.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the processes may take to come up on a loaded 2-core machine.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

fn sibling_binary(name: &str) -> PathBuf {
    let cineflix = Path::new(env!("CARGO_BIN_EXE_cineflix"));
    let path = cineflix.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: this test runs the real front end and replica next to {}. Build them first with \
         `cargo build -p frontend -p theatre-servers` (same profile as the test; `cargo test --workspace` does it).",
        path.display(),
        cineflix.display()
    );
    path
}

/// Child processes killed (by their own handle) when the test ends, pass or fail.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cineflix(endpoint: &str, log_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cineflix"))
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--log-dir")
        .arg(log_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cineflix")
}

fn expect_exit(output: &Output, code: i32) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(code), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.into_owned()
}

#[test]
fn cineflix_against_the_real_standalone_front_end() {
    let frontend_binary = sibling_binary("cineflix-frontend");
    let replica_binary = sibling_binary("cineflix-replica");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cineflix-real-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");

    let ports = udp::unused_loopback_ports(6).expect("free loopback ports");
    let listen: SocketAddr = format!("127.0.0.1:{}", ports[0]).parse().expect("address");
    let [frontend_udp, control, atw, out, ver] = [ports[1], ports[2], ports[3], ports[4], ports[5]];
    let config = format!(
        "[frontend]\nlisten = \"{listen}\"\npublic_url = \"\"\nmode = \"standalone\"\nvote = \"software\"\n\
         udp = \"127.0.0.1:{frontend_udp}\"\nmax_body_bytes = 1048576\nheader_timeout_ms = 10000\n\
         max_connections = 1024\nrequest_timeout_ms = 5000\nretry_ms = 20\n\n\
         [time]\nzone = \"America/Toronto\"\n\n[logs]\ndir = \"{logs}\"\n\n\
         [faults]\ndrop = 0.0\nduplicate = 0.0\nreorder = 0.0\ndelay_ms = 0\n\n\
         [standalone]\ncontrol = \"127.0.0.1:{control}\"\natw = \"127.0.0.1:{atw}\"\nout = \"127.0.0.1:{out}\"\n\
         ver = \"127.0.0.1:{ver}\"\n",
        logs = dir.join("server-logs").display()
    );
    let config_path = dir.join("cineflix.toml");
    std::fs::File::create(&config_path).and_then(|mut file| file.write_all(config.as_bytes())).expect("config");

    let spawn = |binary: &Path, name: &str| {
        Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).expect("stdout file"))
            .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()))
    };
    let mut processes = Processes(vec![spawn(&replica_binary, "replica")]);
    processes.0.push(spawn(&frontend_binary, "frontend"));

    // Ready when the front end accepts connections and a read answers through the replica.
    let endpoint = format!("http://{listen}/cineflix");
    let logs = dir.join("client-logs");
    let deadline = Instant::now() + STARTUP_PATIENCE;
    loop {
        let listening = TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok();
        if listening && cineflix(&endpoint, &logs, &["schedule", "--user", "ATWC0001"]).status.success() {
            break;
        }
        for child in &mut processes.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("a server process exited early ({status}); see {}", dir.display());
            }
        }
        assert!(
            Instant::now() < deadline,
            "the standalone system did not answer within {STARTUP_PATIENCE:?}; see {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let today = booking::time::today(jiff::Timestamp::now().as_millisecond(), &booking::time::montreal());
    let slot = format!("OUTE{}", today.plus_days(2).ddmmyy());
    let stdout = expect_exit(
        &cineflix(
            &endpoint,
            &logs,
            &["add-slots", "--user", "OUTA0001", "--movie-id", &slot, "--movie", "Avengers", "--capacity", "4"],
        ),
        0,
    );
    assert!(stdout.starts_with("✓ OK: "), "{stdout}");
    expect_exit(
        &cineflix(
            &endpoint,
            &logs,
            &["book", "--user", "OUTC0002", "--movie-id", &slot, "--movie", "avengers", "--tickets", "3"],
        ),
        0,
    );
    let stdout = expect_exit(
        &cineflix(
            &endpoint,
            &logs,
            &["book", "--user", "OUTC0003", "--movie-id", &slot, "--movie", "Avengers", "--tickets", "2"],
        ),
        1,
    );
    assert!(stdout.starts_with("✗ SOLD_OUT: "), "{stdout}");

    // The listing comes from all three theatre servers over UDP.
    let stdout = expect_exit(
        &cineflix(&endpoint, &logs, &["--soap", "1.2", "list-shows", "--user", "VERC0001", "--movie", "Avengers"]),
        0,
    );
    let row =
        stdout.lines().find(|line| line.starts_with(&slot)).unwrap_or_else(|| panic!("the slot is listed: {stdout}"));
    assert_eq!(row.split_whitespace().collect::<Vec<_>>()[5..], ["4", "1"], "{row}");

    let stdout = expect_exit(
        &cineflix(&endpoint, &logs, &["--json", "schedule", "--user", "OUTA0001", "--customer", "OUTC0002"]),
        0,
    );
    assert!(
        stdout.contains(&format!(r#""bookings":[{{"movieID":"{slot}","#)) && stdout.contains(r#""tickets":3}]"#),
        "{stdout}"
    );

    // A short load run: everything answered, nothing failed.
    let output =
        cineflix(&endpoint, &logs, &["--json", "bench", "--connections", "4", "--duration", "1s", "--warmup", "200ms"]);
    let stdout = expect_exit(&output, 0);
    assert!(stdout.contains(r#""errors_total":0,"#), "{stdout}");
    assert!(!stdout.contains(r#""requests":0,"#), "{stdout}");
}
