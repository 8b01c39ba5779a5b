"""suds-community against the live service: a client built from the live WSDL calls every operation on the SOAP 1.1
port (suds speaks only SOAP 1.1) and reads a fault as a `WebFault` with its ServiceError detail.

Not a second copy of the booking rules: test_zeep.py checks them; here the point is that suds parses every answer.
"""

from __future__ import annotations

import pytest
import suds
import suds.client
from suds.cache import NoCache

from cineflix_dates import movie_id, show_date


@pytest.fixture
def service(cluster):
    client = suds.client.Client(cluster.wsdl_url, cache=NoCache(), faults=True, timeout=15)
    return client.service["CineflixSoap11"]


def assert_result(result, code: str):
    assert result.code == code, f"expected {code}, got {result.code}: {result.message}"
    assert result.success is (code == "OK")
    assert result.message.strip()


def repeated(reply, name: str) -> list:
    # suds leaves a repeated element out of the reply object when it is absent from the answer.
    return list(getattr(reply, name, []))


def test_every_operation(service):
    day = show_date(1)
    morning, evening = movie_id("VER", "M", day), movie_id("VER", "E", day)
    assert_result(service.addMovieSlots("VERA0001", morning, "Titanic", 4), "OK")
    assert_result(service.addMovieSlots("VERA0001", evening, "Titanic", 6), "OK")
    assert_result(service.addMovieSlots("VERC0001", evening, "Titanic", 6), "NOT_AUTHORIZED")

    listing = service.listMovieShowsAvailability("VERC0001", "titanic")
    assert_result(listing.result, "OK")
    assert [(str(s.movieID), s.theatre, str(s.date), s.slot, s.capacity, s.available)
            for s in repeated(listing, "show")] == [
        (morning, "VER", day.isoformat(), "MORNING", 4, 4),
        (evening, "VER", day.isoformat(), "EVENING", 6, 6),
    ]

    assert_result(service.bookMovieTickets("VERC0001", "VERC0001", morning, "Titanic", 3), "OK")
    assert_result(service.bookMovieTickets("VERC0001", "VERC0001", morning, "Titanic", 2), "SOLD_OUT")
    assert_result(service.exchangeTickets("VERC0001", "VERC0001", morning, "Titanic", evening, "Titanic", 1), "OK")
    assert_result(service.cancelMovieTickets("VERC0001", "VERC0001", morning, "Titanic", 1), "OK")
    assert_result(service.cancelMovieTickets("VERC0001", "VERC0001", morning, "Titanic", 5), "NOT_ENOUGH_TICKETS")

    schedule = service.getBookingSchedule("VERA0001", "VERC0001")
    assert_result(schedule.result, "OK")
    assert [(str(b.movieID), str(b.movieName), b.slot, b.tickets) for b in repeated(schedule, "booking")] == [
        (morning, "Titanic", "MORNING", 1),
        (evening, "Titanic", "EVENING", 1),
    ]

    removal = service.removeMovieSlots("VERA0001", morning, "Titanic")
    assert_result(removal.result, "OK")
    assert [(str(m.customerID), m.tickets, str(m.newMovieID), m.cancelled)
            for m in repeated(removal, "movedBooking")] == [("VERC0001", 1, evening, False)]
    empty = service.getBookingSchedule("VERC0002", "VERC0002")
    assert_result(empty.result, "OK")
    assert repeated(empty, "booking") == []


def test_fault_is_a_web_fault_with_service_error(service):
    with pytest.raises(suds.WebFault) as raised:
        service.bookMovieTickets("VERC0001", "VERC0001", movie_id("VER", "M", show_date(1)), "Titanic", 2**40)
    fault = raised.value.fault
    assert str(fault.faultcode).rpartition(":")[2] == "Client"
    assert str(fault.faultstring).strip()
    assert fault.detail.ServiceError.code == "INVALID_VALUE"
    assert str(fault.detail.ServiceError.message).strip()
