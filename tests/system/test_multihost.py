"""The example multi-host deployment (config/multi-host.toml), started the way its header tells operators to: one
command per host, each component alone, every host mapped to its own loopback address (10.0.0.N -> 127.0.0.N:
Linux answers the whole of 127.0.0.0/8 on the loopback interface, so five addresses behave as five hosts).

What must hold: no component assumes it shares an address with another (each binds its own host's address and
reaches the others by the addresses the file names); the WSDL advertises the configured public URL; bookings work
through the public URL; `cineflix status` from a sixth "host" sees every component; a replica killed on its host is
replaced by its manager there and the cluster keeps answering.

Every wait is a bounded poll of a condition.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest
import requests

from cineflix_cluster import REPO_ROOT, STOP_TIMEOUT_S, binary_dir, serving_after_replacement, wait_until
from cineflix_dates import movie_id, show_date

TEMPLATE = REPO_ROOT / "config" / "multi-host.toml"
START_TIMEOUT_S = 30.0
REPLACEMENT_TIMEOUT_S = 60.0


def loopback_for(host: str) -> str:
    """10.0.0.N -> 127.0.0.N."""
    return "127.0.0." + host.rsplit(".", 1)[1]


def host_commands(template: str) -> list[tuple[str, str, list[str]]]:
    """(name, host, arguments) of each command line the file's header documents."""
    commands = []
    for match in re.finditer(r"(?m)^#[ \t]+(\S.*?)[ \t]+(10\.0\.0\.\d+)[ \t]+(cineflix-\S+)[ \t]+(.*?)(?:[ \t]{2,}\(.*)?$", template):
        name, host, binary, args = match.groups()
        commands.append((name, host, [binary, *args.split()]))
    return commands


class MultiHost:
    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        template = TEMPLATE.read_text()
        self.commands = host_commands(template)
        text = re.sub(r"10\.0\.0\.(\d+)", lambda m: loopback_for(m.group(0)), template)
        # The front end listens on every address of its host; on this one machine that would also take 127.0.0.1's
        # port 8080 (a running `run/up`), so it listens on its own host's address only.
        frontend_host = loopback_for(next(host for name, host, _ in self.commands if name == "front end"))
        text = text.replace('listen = "0.0.0.0:8080"', f'listen = "{frontend_host}:8080"')
        text = re.sub(r'(?m)^dir = ".*"$', f'dir = "{work_dir / "log"}"', text, count=1)
        self.config_path = work_dir / "multi-host.toml"
        self.config_path.write_text(text)
        self.endpoint = f"http://{frontend_host}:8080/cineflix"
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        # The order an operator would use; nothing depends on it but the time until the first request succeeds.
        for name, _host, (binary, *args) in self.commands[::-1]:
            args = [str(self.config_path) if arg == "config/multi-host.toml" else arg for arg in args]
            output = open(self.work_dir / f"{name.replace(' ', '-')}.out", "wb")
            self.processes[name] = subprocess.Popen([str(binary_dir() / binary), *args], cwd=self.work_dir,
                                                    stdin=subprocess.DEVNULL, stdout=output, stderr=output)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode}\n{self.logs_text()}")

    def logs_text(self) -> str:
        parts = []
        for path in sorted(self.work_dir.rglob("*")):
            if path.is_file() and path.suffix in (".log", ".out"):
                parts.append(f"----- {path.name} -----\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def cineflix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(binary_dir() / "cineflix"), "--endpoint", self.endpoint, *args],
                              cwd=self.work_dir, capture_output=True, text=True, timeout=30)

    def status(self) -> dict:
        done = subprocess.run([str(binary_dir() / "cineflix"), "status", "--json", "--config", str(self.config_path)],
                              cwd=self.work_dir, capture_output=True, text=True, timeout=30)
        return {row["component"]: row for row in json.loads(done.stdout)["components"]}

    def replica_pid(self, rm_name: str) -> int | None:
        parent = self.processes[rm_name].pid
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                head, _, tail = (entry / "stat").read_text().rpartition(")")
            except OSError:
                continue
            if int(tail.split()[1]) == parent and head.partition("(")[2].startswith("cineflix-repli"):
                return int(entry.name)
        return None

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def multihost():
    with tempfile.TemporaryDirectory(prefix="cineflix-multihost-") as work_dir:
        deployment = MultiHost(Path(work_dir))
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.stop()


def test_the_header_documents_one_command_per_component():
    commands = host_commands(TEMPLATE.read_text())
    assert [name for name, _, _ in commands] == ["front end", "sequencer", "replica 1", "replica 2", "replica 3"]
    assert len({host for _, host, _ in commands}) == 5, "five hosts"


def test_components_started_alone_on_five_addresses_serve_and_survive_a_replica_kill(multihost):
    def booked_ok() -> bool:
        multihost.check_alive()
        done = multihost.cineflix("schedule", "--user", "VERC0001")
        return done.returncode == 0

    wait_until("the first request through the separately started components", booked_ok, START_TIMEOUT_S)

    wsdl = requests.get(multihost.endpoint + "?wsdl", timeout=10).text
    public_url = tomllib.loads(multihost.config_path.read_text())["frontend"]["public_url"]
    assert re.findall(r'address location="([^"]+)"', wsdl) == [public_url, public_url], "both ports advertise it"

    slot = movie_id("VER", "A", show_date(1))
    done = multihost.cineflix("add-slots", "--user", "VERA0001", "--movie-id", slot, "--movie", "Titanic",
                              "--capacity", "20")
    assert done.returncode == 0, done.stderr

    status = multihost.status()
    addresses = {name: row["address"] for name, row in status.items()}
    assert all(row["up"] for row in status.values()), status
    assert addresses["sequencer"].startswith("127.0.0.20:"), addresses
    for replica_id in (1, 2, 3):
        assert addresses[f"rm{replica_id}"].startswith(f"127.0.0.3{replica_id}:"), addresses

    victim = multihost.replica_pid("replica 2")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    for number in range(1, 6):
        done = multihost.cineflix("book", "--user", f"VERC000{number}", "--movie-id", slot, "--movie", "Titanic",
                                  "--tickets", "2")
        assert done.returncode == 0, f"booking {number} after the kill: {done.stdout}{done.stderr}"

    def replaced() -> bool:
        multihost.check_alive()
        return serving_after_replacement(multihost.status()["rm2"])

    wait_until("replica 2's manager to replace it on its host", replaced, REPLACEMENT_TIMEOUT_S)
    done = multihost.cineflix("--json", "list-shows", "--user", "VERC0009", "--movie", "Titanic")
    assert done.returncode == 0, done.stderr
    shows = [show for show in json.loads(done.stdout)["shows"] if show["movieID"] == slot]
    assert [(show["capacity"], show["available"]) for show in shows] == [(20, 10)], done.stdout
