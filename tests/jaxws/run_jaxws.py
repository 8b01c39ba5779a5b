"""Drives the Java JAX-WS interop check: `wsimport` generates a client from the LIVE WSDL, `javac` compiles
CineflixJaxwsTest.java against it, and `java` runs it against the live service.

What it is: the glue between pytest (tests/system/test_jaxws.py calls `run_jaxws_test`) and the Java tool chain of
the Debian package `jaxws` (installed by tests/setup.sh). Standalone use, against a running service:

    python3 tests/jaxws/run_jaxws.py http://127.0.0.1:8080/cineflix?wsdl

What it deliberately is not: a Java build. There is no Maven or Gradle; the Debian jars are the class path.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
TEST_SOURCE = HERE / "CineflixJaxwsTest.java"
# jaxws-rt.jar's manifest names every other runtime jar (JAXB, SAAJ, StAX...) by absolute path.
RUNTIME_JARS = [Path("/usr/share/java/jaxws-rt.jar"), Path("/usr/share/java/javax.activation.jar")]
GENERATED_PACKAGE = "cineflix.client"
STEP_TIMEOUT_S = 120


class JaxwsUnavailable(RuntimeError):
    """wsimport, javac, java or the JAX-WS jars are missing (run tests/setup.sh)."""


@dataclass
class Outcome:
    returncode: int
    transcript: str


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise JaxwsUnavailable(f"{name} not on PATH: run tests/setup.sh (Debian packages jaxws, openjdk-17-jdk)")
    return path


def classpath(*extra: Path) -> str:
    missing = [jar for jar in RUNTIME_JARS if not jar.is_file()]
    if missing:
        raise JaxwsUnavailable(f"missing {missing}: run tests/setup.sh (Debian package libjaxws-java)")
    return ":".join(str(path) for path in [*extra, *RUNTIME_JARS])


def step(command: list[str], transcript: list[str]) -> int:
    transcript.append("$ " + " ".join(command))
    completed = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
    transcript.append(completed.stdout + completed.stderr)
    return completed.returncode


def wsimport(wsdl_url: str, out_dir: Path, extension: bool, transcript: list[str]) -> int:
    """Generates (and compiles) the client classes; `extension` is what makes wsimport use the SOAP 1.2 port."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [tool("wsimport"), "-keep", "-quiet", "-p", GENERATED_PACKAGE, "-d", str(out_dir)]
    if extension:
        command.append("-extension")
    return step(command + [wsdl_url], transcript)


def theatre_dates() -> tuple[str, str]:
    """Tomorrow and today + 8 days in Montreal, as DDMMYY (the service's "today" is the Montreal date)."""
    today = datetime.datetime.now(ZoneInfo("America/Toronto")).date()
    return tuple(f"{today + datetime.timedelta(days=days):%d%m%y}" for days in (1, 8))


def run_jaxws_test(wsdl_url: str, work_dir: Path) -> Outcome:
    transcript: list[str] = []
    generated = work_dir / "generated"
    if wsimport(wsdl_url, generated, extension=True, transcript=transcript) != 0:
        return Outcome(1, "\n".join(transcript))
    test_classes = work_dir / "test-classes"
    test_classes.mkdir()
    compiled = step([tool("javac"), "-Xlint:none", "-cp", classpath(generated), "-d", str(test_classes),
                     str(TEST_SOURCE)], transcript)
    if compiled != 0:
        return Outcome(compiled, "\n".join(transcript))
    tomorrow, out_of_window = theatre_dates()
    code = step([tool("java"), "-cp", classpath(test_classes, generated), "CineflixJaxwsTest", wsdl_url, tomorrow,
                 out_of_window], transcript)
    return Outcome(code, "\n".join(transcript))


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cineflix-jaxws-") as work_dir:
        outcome = run_jaxws_test(sys.argv[1], Path(work_dir))
    print(outcome.transcript)
    return outcome.returncode


if __name__ == "__main__":
    sys.exit(main())
