"""The replicated deployment (sequencer, three replica managers with their replicas, voting front end) started by
`cineflix-up`, driven by zeep, with replicas killed and made to lie while clients keep booking.

What must hold (replication.md, "Guarantees the tests must demonstrate"):
- a replica SIGKILLed under a steady load costs no client request; its manager replaces it (seen in
  `cineflix status`), and afterwards every replica has the same state digest at the same seq;
- a replica made to lie (`cineflix fault --replica 3 lie`) never changes a client's answer, and is replaced after
  exactly three consecutive wrong answers (the front end's log shows counts 1, 2, 3 and no fourth);
- a replica manager stopped with SIGSTOP under load costs no client request: the sequencer drops it after
  `member_timeout_ms` of silence and the others go on past the history; resumed, it replaces its stale replica by
  state transfer and every replica agrees again.

Every wait is a bounded poll of a condition; nothing sleeps in place of a condition.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from cineflix_cluster import (BackgroundLoad, client_for, remove_work_dir, serving_after_replacement,
                             start_replicated_cluster, wait_until)
from cineflix_dates import movie_id, show_date

# Replacement involves starting a process and transferring state; generous for a loaded 2-core machine.
REPLACEMENT_TIMEOUT_S = 60.0


@pytest.fixture
def replicated():
    deployment = start_replicated_cluster()
    yield deployment
    deployment.stop()
    remove_work_dir(deployment)


def tickets_in_schedule(service, customer: str, slot: str) -> int:
    answer = service.getBookingSchedule(userID=customer, customerID=customer)
    assert answer.result.success, answer.result.code
    return sum(b.tickets for b in answer.booking if b.movieID == slot)


def digests_agree(cluster, replica_ids) -> bool:
    answers = [cluster.replica_status(replica_id) for replica_id in replica_ids]
    return all(answer is not None for answer in answers) and len(set(answers)) == 1


class BookingLoad(BackgroundLoad):
    """A thread booking one ticket at a time, round-robin over customers, until stopped. Records every outcome."""

    def __init__(self, cluster, slot: str, customers: list[str]):
        super().__init__()
        self.service = client_for(cluster)
        self.slot = slot
        self.customers = customers
        self.booked = {customer: 0 for customer in customers}
        self.failures: list[str] = []
        self.done = 0

    def run(self):
        index = 0
        while not self.stop_event.is_set():
            customer = self.customers[index % len(self.customers)]
            index += 1
            try:
                result = self.service.bookMovieTickets(customer, customer, self.slot, "Avatar", 1)
                if result.success and result.code == "OK":
                    self.booked[customer] += 1
                else:
                    self.failures.append(f"{customer}: {result.code} {result.message}")
            except Exception as error:  # a SOAP fault or a transport error is a failed client request
                self.failures.append(f"{customer}: {error!r}")
            self.done += 1


def test_a_replica_killed_under_load_costs_no_request_and_is_replaced(replicated):
    service = client_for(replicated)
    slot = movie_id("ATW", "E", show_date(2))
    assert service.addMovieSlots("ATWA0001", slot, "Avatar", 10000).success
    customers = [f"ATWC{number:04d}" for number in range(1, 5)]

    with BookingLoad(replicated, slot, customers) as load:
        wait_until("30 bookings before the kill", lambda: load.done >= 30, 30, replicated)
        victim = replicated.replica_pid(2)
        assert victim is not None, "rm2 has no replica process"
        os.kill(victim, signal.SIGKILL)
        killed_at = load.done

        def replaced():
            return (serving_after_replacement(replicated.status()["rm2"])
                    and replicated.replica_pid(2) not in (None, victim))

        wait_until("rm2 to replace its killed replica and bring it back into the vote", replaced,
                   REPLACEMENT_TIMEOUT_S, replicated)
        after = load.done
        wait_until("30 more bookings with the replacement serving", lambda: load.done >= after + 30, 30, replicated)

    print(f"bookings: {load.done} total, {killed_at} before the kill, {after} when the replacement was serving")
    assert load.failures == [], f"failed client requests: {load.failures[:10]}"
    assert load.done > killed_at + 30
    for customer in customers:
        assert tickets_in_schedule(service, customer, slot) == load.booked[customer], customer
    status = replicated.status()
    assert all(row["up"] for row in status.values()), status
    assert "r2:inc2" in status["frontend"]["detail"], status["frontend"]
    wait_until("every replica at the same seq with the same digest", lambda: digests_agree(replicated, [1, 2, 3]),
               30, replicated)


def wrong_counts_logged(cluster, replica_id: int) -> list[int]:
    text = (cluster.work_dir / "log" / "frontend.log").read_text(errors="replace")
    return [int(match) for match in re.findall(rf"wrong result .*replica={replica_id} consecutive=(\d+)", text)]


def test_a_lying_replica_never_changes_an_answer_and_is_replaced_after_three_wrong(replicated):
    service = client_for(replicated)
    slot = movie_id("OUT", "A", show_date(3))
    assert service.addMovieSlots("OUTA0001", slot, "Avatar", 100).success
    done = replicated.cineflix("fault", "--replica", "3", "lie")
    assert done.returncode == 0, done.stderr

    customer = "OUTC0001"
    for count in range(1, 4):
        # Each request's true answer is known: the count-th ticket is booked, the schedule holds count tickets.
        result = service.bookMovieTickets(customer, customer, slot, "Avatar", 1)
        assert result.success and result.code == "OK", result
        assert tickets_in_schedule(service, customer, slot) == count
        # Booking and schedule are two requests: the liar is wrong twice per round, so the count goes 2, 4, ...
        # until the limit; before the third wrong answer nothing is replaced.
        if count == 1:
            wait_until("two wrong answers counted", lambda: wrong_counts_logged(replicated, 3) == [1, 2], 10,
                       replicated)
            assert replicated.status()["rm3"]["replacements"] == 0
    wait_until("rm3 to replace its lying replica", lambda: (replicated.status()["rm3"]["replacements"] or 0) >= 1,
               REPLACEMENT_TIMEOUT_S, replicated)
    # Exactly three consecutive wrong answers, then the liar was out of the vote: no fourth count.
    wait_until("the third wrong answer in the log", lambda: 3 in wrong_counts_logged(replicated, 3), 10, replicated)
    assert wrong_counts_logged(replicated, 3) == [1, 2, 3]

    # The replacement runs without the fault and serves correct answers again.
    wait_until("the replacement back in the vote",
               lambda: "in vote" in replicated.status()["rm3"]["detail"]
               and replicated.status()["rm3"]["phase"] == "serving", REPLACEMENT_TIMEOUT_S, replicated)
    for count in range(4, 7):
        assert service.bookMovieTickets(customer, customer, slot, "Avatar", 1).success
        assert tickets_in_schedule(service, customer, slot) == count
    assert wrong_counts_logged(replicated, 3) == [1, 2, 3]
    wait_until("every replica at the same seq with the same digest", lambda: digests_agree(replicated, [1, 2, 3]),
               30, replicated)


# Small, so that the load passes the history several times while the replica manager is stopped.
PAUSE_HISTORY = 256


@pytest.fixture
def replicated_small_history():
    deployment = start_replicated_cluster(history=PAUSE_HISTORY)
    yield deployment
    deployment.stop()
    remove_work_dir(deployment)


def test_a_replica_manager_stopped_under_load_costs_no_request_and_comes_back(replicated_small_history):
    cluster = replicated_small_history
    service = client_for(cluster)
    slot = movie_id("ATW", "M", show_date(3))
    assert service.addMovieSlots("ATWA0001", slot, "Avatar", 10000).success
    customers = [f"ATWC{number:04d}" for number in range(11, 15)]
    sequencer_log = cluster.work_dir / "log" / "sequencer.log"
    rm2 = cluster.pids["rm2"]

    def logged_since(offset: int, line: str) -> int | None:
        """Where `line` ends in the sequencer's log after `offset`, if it is there (earlier lines do not count)."""
        text = sequencer_log.read_text()
        at = text.find(line, offset)
        return None if at < 0 else at + len(line)

    with BookingLoad(cluster, slot, customers) as load:
        wait_until("30 bookings before the stop", lambda: load.done >= 30, 30, cluster)
        before_stop = len(sequencer_log.read_text())
        os.kill(rm2, signal.SIGSTOP)
        try:
            stopped_at = load.done
            # Without the sequencer dropping rm2, the whole cluster would wait once the history is full.
            wait_until("three histories of bookings while rm2 is stopped",
                       lambda: load.done >= stopped_at + 3 * PAUSE_HISTORY, 90, cluster)
            wait_until("the sequencer's log line dropping rm2",
                       lambda: logged_since(before_stop, "members live=[1, 3] ") is not None, 10, cluster)
            dropped_at = logged_since(before_stop, "members live=[1, 3] ")
            during = load.done - stopped_at
        finally:
            os.kill(rm2, signal.SIGCONT)

        wait_until("rm2 to rebuild its replica by state transfer and rejoin the vote",
                   lambda: serving_after_replacement(cluster.status()["rm2"]), REPLACEMENT_TIMEOUT_S, cluster)
        after = load.done
        wait_until("30 more bookings with rm2 back", lambda: load.done >= after + 30, 30, cluster)

    print(f"bookings: {load.done} total, {during} while rm2 was stopped (history {PAUSE_HISTORY})")
    assert load.failures == [], f"failed client requests: {load.failures[:10]}"
    for customer in customers:
        assert tickets_in_schedule(service, customer, slot) == load.booked[customer], customer
    # The managers' logs are flushed periodically: wait for the line rather than read once.
    wait_until("rm2's log line replacing its stale replica for being behind",
               lambda: "reason=Behind" in (cluster.work_dir / "log" / "rm-2.log").read_text(), 10, cluster)
    wait_until("the sequencer's log line taking rm2 back, after the one dropping it",
               lambda: logged_since(dropped_at, "members live=[1, 2, 3] ") is not None, 10, cluster)
    wait_until("every replica at the same seq with the same digest", lambda: digests_agree(cluster, [1, 2, 3]),
               30, cluster)
