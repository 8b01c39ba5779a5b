"""Java JAX-WS (`wsimport`, Debian package `jaxws`) against the live service, run from pytest so that one runner
reports every client stack. The Java side is tests/jaxws/ (CineflixJaxwsTest.java and its driver run_jaxws.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from cineflix_cluster import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "jaxws"))
import run_jaxws  # noqa: E402  (lives beside the Java source it drives)


def test_generated_client_calls_every_operation_on_both_ports(cluster, tmp_path):
    outcome = run_jaxws.run_jaxws_test(cluster.wsdl_url, tmp_path)
    assert outcome.returncode == 0, outcome.transcript
    assert "PASS soap11" in outcome.transcript and "PASS soap12" in outcome.transcript, outcome.transcript
    assert ", 0 failed" in outcome.transcript


def test_plain_wsimport_accepts_the_live_wsdl(cluster, tmp_path):
    # What most users run: no -extension, so wsimport skips the SOAP 1.2 port but must still succeed.
    transcript: list[str] = []
    returncode = run_jaxws.step(
        [run_jaxws.tool("wsimport"), "-keep", "-Xnocompile", "-p", run_jaxws.GENERATED_PACKAGE, "-d", str(tmp_path),
         cluster.wsdl_url],
        transcript,
    )
    assert returncode == 0, "\n".join(transcript)
    service_source = (tmp_path / "cineflix" / "client" / "CineflixService.java").read_text()
    assert "getCineflixSoap11()" in service_source
    assert (tmp_path / "cineflix" / "client" / "ServiceErrorFault.java").is_file()
