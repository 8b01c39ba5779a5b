"""Starts a real CineFlix deployment (one `cineflix-replica` and one `cineflix-frontend`, standalone mode) on free
loopback ports, for the system interop tests.

What it is: process management only. The binaries come from the directory named by the environment variable
`CINEFLIX_BIN` (default `target/release`, relative to the repository root); each deployment gets its own temporary
directory holding its config file and every log. Readiness is a bounded poll of `GET /cineflix?wsdl` followed by one
real operation through the replica (no fixed sleeps).

What it deliberately is not: a client. Tests speak SOAP through zeep, suds, JAX-WS or raw HTTP themselves.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import requests
import zeep
from zeep.transports import Transport

REPO_ROOT = Path(__file__).resolve().parents[2]
SOAP11_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
CINEFLIX_NS = "urn:cineflix:booking:v1"

# A debug build on a loaded 2-core machine may take a few seconds before it listens.
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
LOG_TAIL_CHARS = 8000


def binary_dir() -> Path:
    configured = Path(os.environ.get("CINEFLIX_BIN", "target/release"))
    return configured if configured.is_absolute() else REPO_ROOT / configured


# Deployment ports come from below the kernel's ephemeral range. A port from "bind port 0" is ephemeral: while a
# replica restarts, any socket of the machine bound to port 0 (a replica manager's driver socket, a status probe)
# may be handed the replica's released port, and the replica then cannot bind it again. Same rule as the Rust
# side's `udp::unused_loopback_ports`.
_SEARCH_FLOOR = 10_000
_port_cursor: list[int] = []


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(field) for field in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32_768, 60_999


def _search_range() -> tuple[int, int]:
    low, high = _ephemeral_range()
    if low - _SEARCH_FLOOR >= 1_000:
        return _SEARCH_FLOOR, low - 1
    if 65_535 - high >= 1_000:
        return high + 1, 65_535
    return 1_024, 65_535


def unused_ports(count: int) -> list[int]:
    """`count` distinct loopback ports, each free for both UDP and TCP now, outside the ephemeral range.

    Every probe stays bound until all ports are chosen, so the ports differ; the walk continues where the previous
    call of this process stopped, so successive deployments of one run do not reuse each other's ports."""
    low, high = _search_range()
    size = high - low + 1
    if not _port_cursor:
        _port_cursor.append((os.getpid() * 2_654_435_761 ^ time.monotonic_ns()) % size)
    offset = _port_cursor[0]
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(size):
            if len(ports) == count:
                break
            port = low + offset
            offset = (offset + 1) % size
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            held += [udp, tcp]
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    _port_cursor[0] = offset
    if len(ports) < count:
        raise RuntimeError(f"only {len(ports)} of {count} loopback ports between {low} and {high} are free")
    return ports


@dataclass
class Cluster:
    """One running deployment: its URLs, its temporary directory, and its processes."""

    http_port: int
    work_dir: Path
    config_path: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/cineflix"

    @property
    def wsdl_url(self) -> str:
        return f"{self.endpoint}?wsdl"

    def log_files(self) -> list[Path]:
        return sorted(path for path in self.work_dir.rglob("*") if path.is_file() and path.suffix in (".log", ".out"))

    def logs_text(self) -> str:
        """The tail of every log file, for a failure report."""
        parts = []
        for path in self.log_files():
            text = path.read_text(errors="replace")
            if len(text) > LOG_TAIL_CHARS:
                text = "...\n" + text[-LOG_TAIL_CHARS:]
            parts.append(f"----- {path.relative_to(self.work_dir)} -----\n{text}")
        return "\n".join(parts) if parts else "(no log files)"

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                raise RuntimeError(f"{name} exited with status {code}\n{self.logs_text()}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def render_config(http_port: int, udp_ports: list[int], log_dir: Path, frontend_overrides: dict) -> str:
    frontend_udp, control, atw, out, ver = udp_ports
    frontend = {
        "listen": f'"127.0.0.1:{http_port}"',
        "public_url": '""',
        "mode": '"standalone"',
        "udp": f'"127.0.0.1:{frontend_udp}"',
        # Small enough that the 413 test sends little, large enough for every real request.
        "max_body_bytes": "65536",
        "request_timeout_ms": "5000",
    }
    for key, value in frontend_overrides.items():
        frontend[key] = f'"{value}"' if isinstance(value, str) else str(value).lower()
    lines = ["[frontend]"] + [f"{key} = {value}" for key, value in frontend.items()]
    lines += [
        "",
        "[time]",
        'zone = "America/Toronto"',
        "",
        "[logs]",
        f'dir = "{log_dir}"',
        "",
        "[standalone]",
        f'control = "127.0.0.1:{control}"',
        f'atw = "127.0.0.1:{atw}"',
        f'out = "127.0.0.1:{out}"',
        f'ver = "127.0.0.1:{ver}"',
        "",
    ]
    return "\n".join(lines)


def start_cluster(**frontend_overrides) -> Cluster:
    """Starts a replica and a front end on fresh ports and waits until a SOAP call goes through the replica."""
    bin_dir = binary_dir()
    for name in ("cineflix-replica", "cineflix-frontend"):
        if not (bin_dir / name).is_file():
            raise FileNotFoundError(
                f"{bin_dir / name} not found: build with `cargo build --release -p frontend -p theatre-servers` "
                "or point CINEFLIX_BIN at the directory holding the binaries"
            )
    work_dir = Path(tempfile.mkdtemp(prefix="cineflix-system-"))
    log_dir = work_dir / "log"
    log_dir.mkdir()
    http_port, *udp_ports = unused_ports(6)
    config_path = work_dir / "cineflix.toml"
    config_path.write_text(render_config(http_port, udp_ports, log_dir, frontend_overrides))
    cluster = Cluster(http_port=http_port, work_dir=work_dir, config_path=config_path)
    # NO_COLOR keeps ANSI escapes out of the logs a failure report shows.
    env = dict(os.environ, RUST_BACKTRACE="1", NO_COLOR="1")
    env.setdefault("RUST_LOG", "info")
    try:
        for name in ("cineflix-replica", "cineflix-frontend"):
            out = open(work_dir / f"{name}.out", "wb")
            cluster.processes[name] = subprocess.Popen(
                [str(bin_dir / name), "--config", str(config_path)],
                cwd=work_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
            out.close()
        wait_ready(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def wait_ready(cluster: Cluster) -> None:
    """Polls until the WSDL is served and a read-only operation is answered through the replica."""
    probe = (
        f'<s:Envelope xmlns:s="{SOAP11_ENVELOPE}"><s:Body>'
        f'<getBookingSchedule xmlns="{CINEFLIX_NS}"><userID>ATWC9999</userID><customerID>ATWC9999</customerID>'
        "</getBookingSchedule></s:Body></s:Envelope>"
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_problem = "nothing tried"
    while time.monotonic() < deadline:
        cluster.check_alive()
        try:
            wsdl = requests.get(cluster.wsdl_url, timeout=2)
            if wsdl.status_code == 200:
                answer = requests.post(
                    cluster.endpoint,
                    data=probe.encode(),
                    headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                    timeout=10,
                )
                if answer.status_code == 200:
                    return
                last_problem = f"probe answered HTTP {answer.status_code}: {answer.text[:300]}"
            else:
                last_problem = f"WSDL answered HTTP {wsdl.status_code}"
        except requests.RequestException as error:
            last_problem = repr(error)
        time.sleep(0.05)
    raise TimeoutError(f"CineFlix not ready after {READY_TIMEOUT_S} s: {last_problem}\n{cluster.logs_text()}")


def remove_work_dir(cluster: Cluster) -> None:
    shutil.rmtree(cluster.work_dir, ignore_errors=True)


# ----- replicated deployments (additive: the standalone harness above is unchanged) -----
#
# A replicated deployment is started the way an operator starts one: `cineflix-up --config <temp config>`, which
# starts the sequencer, one `cineflix-rm` per replica (each starting its own `cineflix-replica`) and the front end,
# waits until a real request goes through, and prints one line per component with its pid. The replica processes
# are found as children of their replica manager. `cineflix status --json` and `cineflix fault` are the operator's
# view and levers.

REPLICATED_BINARIES = ("cineflix-up", "cineflix-sequencer", "cineflix-rm", "cineflix-replica", "cineflix-frontend",
                       "cineflix")


@dataclass
class ReplicatedCluster:
    """One running replicated deployment, owned through its `cineflix-up` process."""

    http_port: int
    work_dir: Path
    config_path: Path
    replica_controls: dict[int, int]
    up: subprocess.Popen | None = None
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/cineflix"

    @property
    def wsdl_url(self) -> str:
        return f"{self.endpoint}?wsdl"

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {"cineflix-up": self.up} if self.up else {}

    def logs_text(self) -> str:
        return Cluster.logs_text(self)  # same layout: every *.log / *.out under work_dir

    def log_files(self) -> list[Path]:
        return Cluster.log_files(self)

    def check_alive(self) -> None:
        if self.up is not None and self.up.poll() is not None:
            raise RuntimeError(f"cineflix-up exited with status {self.up.returncode}\n{self.logs_text()}")

    def cineflix(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Runs the `cineflix` CLI against this deployment's config."""
        return subprocess.run(
            [str(binary_dir() / "cineflix"), *args, "--config", str(self.config_path)],
            cwd=self.work_dir, capture_output=True, text=True, timeout=timeout,
        )

    def status(self) -> dict:
        """`cineflix status --json`, as {component: row}. Components that did not answer have "up": false."""
        import json
        done = self.cineflix("status", "--json")
        rows = json.loads(done.stdout)["components"]
        return {row["component"]: row for row in rows}

    def replica_pid(self, replica_id: int) -> int | None:
        """The pid of the `cineflix-replica` that `rm<replica_id>` currently supervises."""
        parent = self.pids[f"rm{replica_id}"]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            head, _, tail = stat.rpartition(")")
            comm = head.partition("(")[2]
            fields = tail.split()
            if len(fields) > 1 and int(fields[1]) == parent and comm.startswith("cineflix-repli"):
                return int(entry.name)
        return None

    def replica_status(self, replica_id: int, timeout: float = 1.0) -> tuple[int, bytes] | None:
        """Asks a replica's control address for replica-api `Status`: (next_expected, digest), or None."""
        import struct
        request = bytes([0x10, 1, 2])  # framing "whole message", wire version 1, tag Status
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(request, ("127.0.0.1", self.replica_controls[replica_id]))
            try:
                reply, _ = sock.recvfrom(65536)
            except OSError:
                return None
        if len(reply) != 3 + 8 + 32 or reply[:3] != bytes([0x10, 1, 2]):
            return None
        (next_expected,) = struct.unpack("<Q", reply[3:11])
        return next_expected, reply[11:]

    def stop(self) -> None:
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGTERM)
            try:
                self.up.wait(timeout=STOP_TIMEOUT_S * 3)
            except subprocess.TimeoutExpired:
                self.up.kill()
                self.up.wait()


def render_replicated_config(http_port: int, ports: list[int], log_dir: Path, replicas: int,
                             replication: dict, history: int | None = None) -> str:
    it = iter(ports)
    lines = [
        "[frontend]",
        f'listen = "127.0.0.1:{http_port}"',
        'mode = "replicated"',
        'vote = "software"',
        f'udp = "127.0.0.1:{next(it)}"',
        f'results = "127.0.0.1:{next(it)}"',
        "node_id = 100",
        "max_body_bytes = 65536",
        "request_timeout_ms = 5000",
        "",
        "[time]",
        'zone = "America/Toronto"',
        "",
        "[logs]",
        f'dir = "{log_dir}"',
        "",
        "[sequencer]",
        f'addr = "127.0.0.1:{next(it)}"',
        *([f"history = {history}"] if history is not None else []),
        "",
        "[replication]",
    ]
    lines += [f"{key} = {value}" for key, value in replication.items()]
    for replica_id in range(1, replicas + 1):
        lines += [
            "",
            "[[replicas]]",
            f"id = {replica_id}",
            f'manager = "127.0.0.1:{next(it)}"',
            f'member = "127.0.0.1:{next(it)}"',
            "[replicas.replica]",
            f'control = "127.0.0.1:{next(it)}"',
            f'atw = "127.0.0.1:{next(it)}"',
            f'out = "127.0.0.1:{next(it)}"',
            f'ver = "127.0.0.1:{next(it)}"',
        ]
    return "\n".join(lines) + "\n"


def start_replicated_cluster(replicas: int = 3, *, history: int | None = None, **replication) -> ReplicatedCluster:
    """Starts a replicated deployment via `cineflix-up` on fresh ports; returns once it answers a real request.
    `history` sets the sequencer's history size (default: the built-in 4096); `replication` the [replication] keys."""
    bin_dir = binary_dir()
    for name in REPLICATED_BINARIES:
        if not (bin_dir / name).is_file():
            raise FileNotFoundError(f"{bin_dir / name} not found: build with `cargo build --release --bins` "
                                    "or point CINEFLIX_BIN at the directory holding the binaries")
    work_dir = Path(tempfile.mkdtemp(prefix="cineflix-replicated-"))
    log_dir = work_dir / "log"
    log_dir.mkdir()
    http_port, *ports = unused_ports(1 + 3 + 6 * replicas)
    config_path = work_dir / "cineflix.toml"
    config_path.write_text(render_replicated_config(http_port, ports, log_dir, replicas, replication, history))
    controls = {replica_id: ports[3 + 6 * (replica_id - 1) + 2] for replica_id in range(1, replicas + 1)}
    cluster = ReplicatedCluster(http_port=http_port, work_dir=work_dir, config_path=config_path,
                                replica_controls=controls)
    launch_replicated(cluster)
    return cluster


# ----- replicated deployments from a shipped config file -----
#
# `start_replicated_cluster_from` takes one of the operator's config files (e.g. config/replicated-n4.toml) as a
# template, so that a test runs exactly the timeouts and limits an operator gets: only every loopback address is moved
# to a free port, the log directory into the deployment's temporary directory, and the [faults] rates and per-replica
# start-up faults are set as the test asks. The template's other lines are kept verbatim.

LOOPBACK_ADDR = re.compile(r'"127\.0\.0\.1:(\d+)"')


def derive_replicated_config(template: str, log_dir: Path, faults: dict | None = None,
                             replica_faults: dict[int, str] | None = None) -> tuple[str, dict[int, int], int]:
    """Rewrites a replicated config template: (text, {replica_id: control port}, front-end HTTP port).

    Every distinct template port maps to one distinct free port, so that addresses naming the same port (none today,
    but a multi-host file might) still agree. `faults` sets [faults] keys; `replica_faults` maps a replica id to a
    TOML inline table such as '{ kind = "lie" }' for that replica's first process.
    """
    originals = sorted({int(port) for port in LOOPBACK_ADDR.findall(template)})
    *udp_ports, http_port = unused_ports(len(originals) + 1)
    fresh = dict(zip(originals, udp_ports))
    parsed = tomllib.loads(template)
    http_original = int(parsed["frontend"]["listen"].rsplit(":", 1)[1])
    fresh[http_original] = http_port
    text = LOOPBACK_ADDR.sub(lambda match: f'"127.0.0.1:{fresh[int(match.group(1))]}"', template)
    text = re.sub(r'(?m)^dir = ".*"$', f'dir = "{log_dir}"', text, count=1)
    for key, value in (faults or {}).items():
        text, count = re.subn(rf"(?ms)(^\[faults\].*?^){key} = [^\n]*$", rf"\g<1>{key} = {value}", text, count=1)
        if count != 1:
            raise ValueError(f"template has no [faults] {key} line")
    for replica_id, fault in (replica_faults or {}).items():
        blocks = text.split("[[replicas]]")
        index = next(i for i, block in enumerate(blocks) if re.search(rf"(?m)^id = {replica_id}$", block))
        blocks[index], count = re.subn(r"(?m)^fault = .*$", f"fault = {fault}", blocks[index], count=1)
        if count != 1:
            raise ValueError(f"template's replica {replica_id} has no fault line")
        text = "[[replicas]]".join(blocks)
    derived = tomllib.loads(text)  # also proves the rewritten file is still valid TOML
    controls = {entry["id"]: int(entry["replica"]["control"].rsplit(":", 1)[1]) for entry in derived["replicas"]}
    http_port = int(derived["frontend"]["listen"].rsplit(":", 1)[1])
    return text, controls, http_port


def start_replicated_cluster_from(template: Path, faults: dict | None = None,
                                  replica_faults: dict[int, str] | None = None) -> ReplicatedCluster:
    """Starts a replicated deployment via `cineflix-up` from a config template on fresh ports (see above)."""
    bin_dir = binary_dir()
    for name in REPLICATED_BINARIES:
        if not (bin_dir / name).is_file():
            raise FileNotFoundError(f"{bin_dir / name} not found: build with `cargo build --release --bins` "
                                    "or point CINEFLIX_BIN at the directory holding the binaries")
    work_dir = Path(tempfile.mkdtemp(prefix="cineflix-replicated-"))
    log_dir = work_dir / "log"
    log_dir.mkdir()
    text, controls, http_port = derive_replicated_config(Path(template).read_text(), log_dir, faults, replica_faults)
    config_path = work_dir / "cineflix.toml"
    config_path.write_text(text)
    cluster = ReplicatedCluster(http_port=http_port, work_dir=work_dir, config_path=config_path,
                                replica_controls=controls)
    launch_replicated(cluster)
    return cluster


def launch_replicated(cluster: ReplicatedCluster) -> None:
    """Runs `cineflix-up` for a prepared deployment and waits until it reports the cluster up; records the pids."""
    env = dict(os.environ, RUST_BACKTRACE="1", NO_COLOR="1")
    env.setdefault("RUST_LOG", "info")
    out_path = cluster.work_dir / "cineflix-up.out"
    with open(out_path, "wb") as out:
        cluster.up = subprocess.Popen(
            [str(binary_dir() / "cineflix-up"), "--config", str(cluster.config_path), "--ready-timeout-s",
             str(int(READY_TIMEOUT_S))],
            cwd=cluster.work_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S + 10
        while True:
            cluster.check_alive()
            text = out_path.read_text(errors="replace")
            if "CineFlix is up." in text:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"cineflix-up did not report the cluster up\n{cluster.logs_text()}")
            time.sleep(0.05)  # polling interval, not a settle delay
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "pid":
                cluster.pids[parts[0]] = int(parts[2])
    except BaseException:
        cluster.stop()
        raise


# ----- helpers shared by the replicated-mode tests -----

POLL_S = 0.05  # polling interval of wait_until, not a settle delay


class BackgroundLoad:
    """A client thread running `run` (a loop until `stop_event` is set) inside a `with` block."""

    def __init__(self):
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=30)


def serving_after_replacement(row: dict) -> bool:
    """A replica manager's `cineflix status` row: up, at least one replacement so far, serving and in the vote."""
    return bool(row["up"] and (row["replacements"] or 0) >= 1 and row["phase"] == "serving"
                and "in vote" in row["detail"])


def client_for(cluster) -> zeep.proxy.ServiceProxy:
    """A zeep client generated from the deployment's live WSDL, bound to the SOAP 1.1 port."""
    client = zeep.Client(cluster.wsdl_url, transport=Transport(timeout=15, operation_timeout=15))
    return client.bind("CineflixService", "CineflixSoap11")


def wait_until(what: str, condition, timeout_s: float, cluster=None):
    """Polls `condition` until it returns a truthy value (returned) or `timeout_s` passes (AssertionError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if cluster is not None:
            cluster.check_alive()
        if time.monotonic() > deadline:
            details = f"\n{cluster.logs_text()}" if cluster is not None else ""
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{details}")
        time.sleep(POLL_S)
