"""node `soap` (npm) against the live service, run from pytest. The JavaScript side is
tests/node/cineflix_soap_test.js; tests/setup.sh installs its pinned dependencies when npm is present.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cineflix_cluster import REPO_ROOT
from cineflix_dates import show_date

NODE_DIR = REPO_ROOT / "tests" / "node"


def test_node_soap_calls_every_operation_and_reads_a_fault(cluster):
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "soap").is_dir():
        pytest.skip("node or tests/node/node_modules missing (install Node.js, then run tests/setup.sh)")
    completed = subprocess.run(
        [node, "cineflix_soap_test.js", cluster.wsdl_url, f"{show_date(1):%d%m%y}"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    transcript = completed.stdout + completed.stderr
    assert completed.returncode == 0, transcript
    assert "PASS node soap" in transcript
