"""pytest fixtures for the system interop tests: real CineFlix processes on free loopback ports.

`cluster` gives each test a fresh deployment, so that booking scenarios never see each other's slots; `shared_cluster`
is one deployment per module, for wire-level tests whose answers do not depend on earlier state. When a test fails,
the tail of every log of the deployments it used is attached to its report.
"""

from __future__ import annotations

import pytest

from cineflix_cluster import Cluster, ReplicatedCluster, remove_work_dir, start_cluster


@pytest.fixture
def cluster():
    deployment = start_cluster()
    yield deployment
    deployment.stop()
    remove_work_dir(deployment)


@pytest.fixture(scope="module")
def shared_cluster():
    deployment = start_cluster()
    yield deployment
    deployment.stop()
    remove_work_dir(deployment)


@pytest.fixture
def start_custom_cluster():
    """Starts deployments with front-end config overrides (e.g. public_url); all stopped at the end of the test."""
    started: list[Cluster] = []

    def start(**frontend_overrides) -> Cluster:
        deployment = start_cluster(**frontend_overrides)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.stop()
        remove_work_dir(deployment)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, (Cluster, ReplicatedCluster)):
            for process_name, process in value.processes.items():
                state = "running" if process.poll() is None else f"exited with {process.returncode}"
                report.sections.append((f"cineflix {name}: {process_name}", state))
            report.sections.append((f"cineflix {name} logs", value.logs_text()))
