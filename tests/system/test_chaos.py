"""`cineflix chaos` and `cineflix demo` end to end, so that neither rots: the real binary starts its own private
cluster (ports below the ephemeral range, logs in a scratch directory), drives its tracked workload, injects faults
and checks the history itself; these tests check its exit status and that its report says what must hold.

What it deliberately is not: a second history checker (the Rust `workload::history` module is that, unit-tested with
fabricated violating histories). The chaos run here is short (CINEFLIX_CHAOS_DURATION, default 45s); the long run
for graders is `run/chaos` (10 minutes). Every wait is the binary's own bounded wait for an observed condition.
"""

from __future__ import annotations

import os
import re
import subprocess

from cineflix_cluster import REPO_ROOT, binary_dir

CHAOS_DURATION = os.environ.get("CINEFLIX_CHAOS_DURATION", "45s")
# Start-up, the run, convergence and the final read-back of a short run fit well inside this.
CHAOS_TIMEOUT_S = 240
DEMO_TIMEOUT_S = 240


def cineflix(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary_dir() / "cineflix"), *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_a_short_chaos_run_keeps_the_history_exact():
    done = cineflix("chaos", "--duration", CHAOS_DURATION, "--seed", "7", timeout=CHAOS_TIMEOUT_S)
    print(done.stdout[-4000:])
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    summary = done.stdout[done.stdout.index("== cineflix chaos summary"):]
    assert re.search(r"^violations 0$", summary, re.M), summary
    assert re.search(r"unknown outcome 0 ", summary), summary
    events = int(re.search(r"^events (\d+):", summary, re.M).group(1))
    assert events >= 3, f"too few fault events to mean anything: {summary}"
    acknowledged = int(re.search(r"acknowledged (\d+)", summary).group(1))
    assert acknowledged > 500, summary
    digests = re.findall(r"^replica \d+ at seq (\d+) digest ([0-9a-f]+)$", summary, re.M)
    assert len(digests) == 3 and len(set(digests)) == 1, summary
    assert summary.rstrip().endswith("result: PASS"), summary


def narrated_in_order(output: str, steps: list[str]) -> None:
    position = 0
    for step in steps:
        found = output.find(step, position)
        assert found >= 0, f"narration lacks {step!r} after position {position}:\n{output}"
        position = found + len(step)


STEPS_OF_A_REPLACEMENT = ["cluster up", "load started", "fault injected", "front end", "replica managers agree",
                          "replica replaced", "back in the vote", "clients saw no error", "replica managers agree",
                          "-- evidence", "violations 0"]


def test_the_crash_demo_narrates_a_replacement_end_to_end():
    done = cineflix("demo", "crash", timeout=DEMO_TIMEOUT_S)
    print(done.stdout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    narrated_in_order(done.stdout, STEPS_OF_A_REPLACEMENT)
    assert "killed with SIGKILL" in done.stdout


def test_the_liar_demo_narrates_three_wrong_results_and_a_replacement():
    done = cineflix("demo", "liar", timeout=DEMO_TIMEOUT_S)
    print(done.stdout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    narrated_in_order(done.stdout, ["wrong result 1 in a row", "wrong result 2 in a row", "wrong result 3 in a row"])
    narrated_in_order(done.stdout, STEPS_OF_A_REPLACEMENT)


def test_the_pause_demo_narrates_a_stopped_manager_dropped_and_rebuilt():
    done = cineflix("demo", "pause", timeout=DEMO_TIMEOUT_S)
    print(done.stdout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    narrated_in_order(done.stdout, ["cluster up", "load started", "stopped with SIGSTOP", "sequencer drops",
                                    "requests keep being answered", "resumed with SIGCONT", "finds it missed requests",
                                    "reason=Behind", "replica replaced", "back in the vote",
                                    "sequencer counts it live again", "clients saw no error", "replica managers agree",
                                    "-- evidence", "violations 0"])
