"""Python zeep against the live service: a client generated from the live WSDL calls every operation on both the
SOAP 1.1 and the SOAP 1.2 port and checks the answers, the rejection codes and the faults.

Each test gets a fresh deployment (the `cluster` fixture), so expected listings and schedules are exact. The booking
rules are checked only as far as a client can see them; their full coverage is the booking crate's unit tests.
"""

from __future__ import annotations

import pytest
import zeep
import zeep.exceptions
from lxml import etree
from zeep import xsd
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from cineflix_dates import listing_key, montreal_today, movie_id, show_date

NS = "urn:cineflix:booking:v1"
SOAP11_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENVELOPE = "http://www.w3.org/2003/05/soap-envelope"
PORT_ENVELOPES = {"CineflixSoap11": SOAP11_ENVELOPE, "CineflixSoap12": SOAP12_ENVELOPE}


class RecordingTransport(Transport):
    """zeep's transport, remembering the HTTP status and content type of the last answer (zeep hides them)."""

    def __init__(self):
        super().__init__(timeout=15, operation_timeout=15)
        self.last_status = None
        self.last_content_type = None

    def post(self, address, message, headers):
        response = super().post(address, message, headers)
        self.last_status = response.status_code
        self.last_content_type = response.headers.get("Content-Type", "")
        return response


class Client:
    """A zeep client bound to one port, with the wire history and HTTP status of its last call."""

    def __init__(self, wsdl_url: str, port: str):
        self.transport = RecordingTransport()
        self.history = HistoryPlugin()
        self.zeep = zeep.Client(wsdl_url, transport=self.transport, plugins=[self.history])
        self.port = port
        self.service = self.zeep.bind("CineflixService", port)

    def sent_envelope_namespace(self) -> str:
        return etree.QName(self.history.last_sent["envelope"]).namespace


@pytest.fixture(params=["CineflixSoap11", "CineflixSoap12"])
def client(request, cluster) -> Client:
    return Client(cluster.wsdl_url, request.param)


def assert_ok(result):
    assert result.success is True, f"{result.code}: {result.message}"
    assert result.code == "OK"


def assert_rejected(result, code: str):
    assert result.success is False
    assert result.code == code, f"expected {code}, got {result.code}: {result.message}"
    assert result.message.strip(), "a rejection carries a human message"


def add_slot(client: Client, admin: str, mid: str, movie: str, capacity: int):
    assert_ok(client.service.addMovieSlots(userID=admin, movieID=mid, movieName=movie, bookingCapacity=capacity))


def schedule_of(client: Client, user: str, customer: str) -> list[tuple]:
    answer = client.service.getBookingSchedule(userID=user, customerID=customer)
    assert_ok(answer.result)
    return [(b.movieID, b.movieName, b.theatre, b.date, b.slot, b.tickets) for b in answer.booking]


def listing_of(client: Client, movie: str) -> list[tuple]:
    answer = client.service.listMovieShowsAvailability(userID="VERC0001", movieName=movie)
    assert_ok(answer.result)
    return [(s.movieID, s.movieName, s.theatre, s.date, s.slot, s.capacity, s.available) for s in answer.show]


def test_client_uses_the_requested_soap_version(client):
    listing_of(client, "Titanic")
    assert client.sent_envelope_namespace() == PORT_ENVELOPES[client.port]
    expected_type = "text/xml" if client.port == "CineflixSoap11" else "application/soap+xml"
    assert client.transport.last_content_type.startswith(expected_type)
    assert "charset=utf-8" in client.transport.last_content_type.lower()


def test_listing_is_ordered_by_date_slot_theatre_with_canonical_names(client):
    today = montreal_today()
    tomorrow = show_date(1)
    # Added out of order, with IDs and names in odd letter case: the answer must be canonical and sorted.
    add_slot(client, "VERA0001", movie_id("ver", "m", tomorrow), "AVATAR", 7)
    add_slot(client, "ATWA0001", movie_id("ATW", "E", today), "avatar", 5)
    add_slot(client, "atwa0001", movie_id("ATW", "M", tomorrow), "Avatar", 4)
    add_slot(client, "OUTA0001", movie_id("OUT", "M", tomorrow), "Avatar", 6)
    add_slot(client, "OUTA0001", movie_id("OUT", "A", today), "Avatar", 3)
    add_slot(client, "OUTA0001", movie_id("OUT", "A", today), "Titanic", 9)  # another movie: not listed

    shows = listing_of(client, "aVaTaR")
    expected = sorted(
        [
            (movie_id("VER", "M", tomorrow), "Avatar", "VER", tomorrow, "MORNING", 7, 7),
            (movie_id("ATW", "E", today), "Avatar", "ATW", today, "EVENING", 5, 5),
            (movie_id("ATW", "M", tomorrow), "Avatar", "ATW", tomorrow, "MORNING", 4, 4),
            (movie_id("OUT", "M", tomorrow), "Avatar", "OUT", tomorrow, "MORNING", 6, 6),
            (movie_id("OUT", "A", today), "Avatar", "OUT", today, "AFTERNOON", 3, 3),
        ],
        key=lambda show: listing_key(show[3], show[4], show[2]),
    )
    assert shows == expected
    assert listing_of(client, "Avengers") == []


def test_book_schedule_cancel(client):
    day = show_date(2)
    morning, evening = movie_id("ATW", "M", day), movie_id("ATW", "E", day)
    add_slot(client, "ATWA0001", morning, "Avatar", 5)
    add_slot(client, "ATWA0001", evening, "Titanic", 8)
    customer = "ATWC0001"

    assert schedule_of(client, customer, customer) == []
    assert_ok(client.service.bookMovieTickets(customer, customer, evening, "Titanic", 2))
    assert_ok(client.service.bookMovieTickets(customer, customer, morning.lower(), "avatar", 2))
    # Booking again in a held slot adds to that booking.
    assert_ok(client.service.bookMovieTickets(customer, customer, morning, "Avatar", 1))
    assert schedule_of(client, customer, customer) == [
        (morning, "Avatar", "ATW", day, "MORNING", 3),
        (evening, "Titanic", "ATW", day, "EVENING", 2),
    ]
    assert (morning, "Avatar", "ATW", day, "MORNING", 5, 2) in listing_of(client, "Avatar")

    assert_rejected(client.service.bookMovieTickets(customer, customer, morning, "Avatar", 3), "SOLD_OUT")
    assert_rejected(client.service.cancelMovieTickets(customer, customer, morning, "Avatar", 4), "NOT_ENOUGH_TICKETS")
    assert_rejected(client.service.cancelMovieTickets(customer, customer, evening, "Avatar", 1), "NO_BOOKING")
    assert_ok(client.service.cancelMovieTickets(customer, customer, morning, "Avatar", 1))
    assert_ok(client.service.cancelMovieTickets(customer, customer, evening, "Titanic", 2))
    assert schedule_of(client, customer, customer) == [(morning, "Avatar", "ATW", day, "MORNING", 2)]
    assert (morning, "Avatar", "ATW", day, "MORNING", 5, 3) in listing_of(client, "Avatar")


def test_admin_acts_for_customers_of_its_own_theatre_only(client):
    day = show_date(1)
    slot = movie_id("OUT", "A", day)
    add_slot(client, "OUTA0001", slot, "Avengers", 10)
    assert_ok(client.service.bookMovieTickets("OUTA0002", "OUTC0007", slot, "Avengers", 4))
    assert schedule_of(client, "OUTA0002", "OUTC0007") == [(slot, "Avengers", "OUT", day, "AFTERNOON", 4)]
    assert schedule_of(client, "OUTC0007", "OUTC0007") == [(slot, "Avengers", "OUT", day, "AFTERNOON", 4)]

    assert_rejected(client.service.bookMovieTickets("OUTA0002", "ATWC0001", slot, "Avengers", 1), "NOT_AUTHORIZED")
    assert_rejected(client.service.bookMovieTickets("OUTC0008", "OUTC0007", slot, "Avengers", 1), "NOT_AUTHORIZED")
    answer = client.service.getBookingSchedule(userID="OUTC0008", customerID="OUTC0007")
    assert_rejected(answer.result, "NOT_AUTHORIZED")
    assert list(answer.booking) == []
    assert (slot, "Avengers", "OUT", day, "AFTERNOON", 10, 6) in listing_of(client, "Avengers")


def test_add_slot_rejections_change_nothing(client):
    day = show_date(3)
    slot = movie_id("VER", "E", day)
    add_slot(client, "VERA0001", slot, "Titanic", 4)
    assert_ok(client.service.bookMovieTickets("VERC0001", "VERC0001", slot, "Titanic", 3))

    add = client.service.addMovieSlots
    assert_rejected(add("VERC0001", slot, "Titanic", 10), "NOT_AUTHORIZED")  # a customer
    assert_rejected(add("ATWA0001", slot, "Titanic", 10), "NOT_AUTHORIZED")  # another theatre's admin
    assert_rejected(add("VERA0001", movie_id("VER", "E", show_date(8)), "Titanic", 10), "DATE_OUT_OF_WINDOW")
    assert_rejected(add("VERA0001", movie_id("VER", "E", show_date(-1)), "Titanic", 10), "DATE_OUT_OF_WINDOW")
    assert_rejected(add("VERA0001", slot, "Titanic", 0), "INVALID_QUANTITY")
    assert_rejected(add("VERA0001", slot, "Titanic", 10_001), "INVALID_QUANTITY")
    assert_rejected(add("VERA0001", slot, "Titanic", 2), "CAPACITY_BELOW_BOOKED")
    assert_rejected(add("VERA0001", slot, "Matrix", 10), "UNKNOWN_MOVIE")
    assert_rejected(add("VERX0001", slot, "Titanic", 10), "INVALID_ID")
    assert_rejected(add("VERA0001", "VERX010199", "Titanic", 10), "INVALID_ID")
    assert listing_of(client, "Titanic") == [(slot, "Titanic", "VER", day, "EVENING", 4, 1)]

    # A capacity update at or above the booked seats is allowed.
    add_slot(client, "VERA0001", slot, "Titanic", 3)
    assert listing_of(client, "Titanic") == [(slot, "Titanic", "VER", day, "EVENING", 3, 0)]


def test_booking_rejections(client):
    day = show_date(1)
    for theatre in ("ATW", "OUT", "VER"):
        for letter in "MAE":
            add_slot(client, f"{theatre}A0001", movie_id(theatre, letter, day), "Avatar", 10)
    for letter in "MAE":
        add_slot(client, "ATWA0001", movie_id("ATW", letter, day), "Titanic", 10)
    add_slot(client, "VERA0001", movie_id("VER", "M", day), "Titanic", 10)
    customer = "ATWC0042"
    book = client.service.bookMovieTickets

    assert_rejected(book(customer, customer, movie_id("ATW", "M", show_date(2)), "Avatar", 1), "SLOT_NOT_FOUND")
    assert_rejected(book(customer, customer, movie_id("ATW", "M", day), "Avengers", 1), "SLOT_NOT_FOUND")
    assert_rejected(book(customer, customer, movie_id("ATW", "M", day), "Avatar", 0), "INVALID_QUANTITY")
    assert_rejected(book(customer, customer, movie_id("ATW", "M", day), "Avatar", 11), "SOLD_OUT")

    # One theatre per show time: Avatar in the morning at OUT, then Avatar in the morning at VER.
    assert_ok(book(customer, customer, movie_id("OUT", "M", day), "Avatar", 1))
    assert_rejected(book(customer, customer, movie_id("VER", "M", day), "Avatar", 1), "SAME_SLOT_OTHER_THEATRE")
    # Three distinct outside slots a week, then the limit; adding to a held one and booking at home still work.
    assert_ok(book(customer, customer, movie_id("OUT", "A", day), "Avatar", 1))
    assert_ok(book(customer, customer, movie_id("VER", "E", day), "Avatar", 1))
    assert_rejected(book(customer, customer, movie_id("VER", "M", day), "Titanic", 1), "OUTSIDE_AREA_LIMIT")
    assert_ok(book(customer, customer, movie_id("OUT", "A", day), "Avatar", 2))
    # At home there is no limit (Titanic: Avatar at OUT this morning would make ATW's Avatar morning a clash).
    for letter in "MAE":
        assert_ok(book(customer, customer, movie_id("ATW", letter, day), "Titanic", 1))
    assert [(entry[0], entry[5]) for entry in schedule_of(client, customer, customer)] == [
        (movie_id("ATW", "M", day), 1),
        (movie_id("OUT", "M", day), 1),
        (movie_id("ATW", "A", day), 1),
        (movie_id("OUT", "A", day), 3),
        (movie_id("ATW", "E", day), 1),
        (movie_id("VER", "E", day), 1),
    ]


def test_exchange_is_atomic_and_judged_as_if_old_tickets_were_returned(client):
    day = show_date(2)
    for letter in "MAE":
        add_slot(client, "OUTA0001", movie_id("OUT", letter, day), "Avengers", 5)
    add_slot(client, "VERA0001", movie_id("VER", "E", day), "Titanic", 5)
    add_slot(client, "VERA0001", movie_id("VER", "A", day), "Titanic", 1)
    customer = "ATWC0003"
    book, exchange = client.service.bookMovieTickets, client.service.exchangeTickets
    for letter in "MAE":
        assert_ok(book(customer, customer, movie_id("OUT", letter, day), "Avengers", 2))
    before = schedule_of(client, customer, customer)

    # Partial exchange keeps the old outside slot: a fourth outside slot this week is refused, nothing changes.
    old_slot = movie_id("OUT", "E", day)
    assert_rejected(exchange(customer, customer, old_slot, "Avengers", movie_id("VER", "E", day), "Titanic", 1),
                    "OUTSIDE_AREA_LIMIT")
    assert_rejected(exchange(customer, customer, old_slot, "Avengers", movie_id("VER", "A", day), "Titanic", 2),
                    "SOLD_OUT")
    assert_rejected(exchange(customer, customer, old_slot, "Avengers", movie_id("VER", "E", day), "Titanic", 3),
                    "NOT_ENOUGH_TICKETS")
    assert_rejected(exchange(customer, customer, movie_id("VER", "A", day), "Titanic", old_slot, "Avengers", 1),
                    "NO_BOOKING")
    assert schedule_of(client, customer, customer) == before

    # Exchanging all of it frees that outside slot, so the new outside slot fits the limit.
    assert_ok(exchange(customer, customer, old_slot, "Avengers", movie_id("VER", "E", day), "Titanic", 2))
    after = schedule_of(client, customer, customer)
    assert [(entry[0], entry[1], entry[5]) for entry in after] == [
        (movie_id("OUT", "M", day), "Avengers", 2),
        (movie_id("OUT", "A", day), "Avengers", 2),
        (movie_id("VER", "E", day), "Titanic", 2),
    ]
    listing = listing_of(client, "Avengers")
    assert (old_slot, "Avengers", "OUT", day, "EVENING", 5, 5) in listing
    assert (movie_id("VER", "E", day), "Titanic", "VER", day, "EVENING", 5, 3) in listing_of(client, "Titanic")


def test_remove_moves_bookings_to_the_earliest_later_slot_or_cancels(client):
    day, next_day = show_date(1), show_date(2)
    removed = movie_id("ATW", "M", day)
    add_slot(client, "ATWA0001", movie_id("ATW", "E", show_date(0)), "Avatar", 100)  # earlier: never a target
    add_slot(client, "ATWA0001", removed, "Avatar", 20)
    add_slot(client, "ATWA0001", movie_id("ATW", "A", day), "Avatar", 2)
    add_slot(client, "ATWA0001", movie_id("ATW", "E", day), "Avatar", 10)
    add_slot(client, "ATWA0001", movie_id("ATW", "M", next_day), "Avatar", 1)
    add_slot(client, "OUTA0001", movie_id("OUT", "E", next_day), "Avatar", 100)  # another theatre: never a target
    add_slot(client, "ATWA0001", movie_id("ATW", "A", next_day), "Titanic", 100)  # another movie: never a target
    for customer, tickets in (("ATWC0001", 3), ("ATWC0002", 1), ("ATWC0003", 5), ("ATWC0004", 6)):
        assert_ok(client.service.bookMovieTickets(customer, customer, removed, "Avatar", tickets))

    assert_rejected(client.service.removeMovieSlots("ATWC0001", removed, "Avatar").result, "NOT_AUTHORIZED")
    answer = client.service.removeMovieSlots(userID="ATWA0002", movieID=removed, movieName="Avatar")
    assert_ok(answer.result)
    moved = [(m.customerID, m.tickets, m.newMovieID, m.cancelled) for m in answer.movedBooking]
    assert moved == [
        ("ATWC0001", 3, movie_id("ATW", "E", day), False),  # afternoon has only 2 seats
        ("ATWC0002", 1, movie_id("ATW", "A", day), False),
        ("ATWC0003", 5, movie_id("ATW", "E", day), False),
        ("ATWC0004", 6, None, True),  # 1 seat left in the afternoon, 2 in the evening, 1 the next morning
    ]
    assert schedule_of(client, "ATWC0001", "ATWC0001") == [(movie_id("ATW", "E", day), "Avatar", "ATW", day,
                                                             "EVENING", 3)]
    assert schedule_of(client, "ATWC0004", "ATWC0004") == []
    assert removed not in [show[0] for show in listing_of(client, "Avatar")]

    again = client.service.removeMovieSlots(userID="ATWA0002", movieID=removed, movieName="Avatar")
    assert_rejected(again.result, "SLOT_NOT_FOUND")
    assert list(again.movedBooking) == []


def expected_fault_status(client: Client) -> int:
    # SOAP 1.1 faults always travel with HTTP 500; SOAP 1.2 Sender faults with 400.
    return 500 if client.port == "CineflixSoap11" else 400


def service_error(fault: zeep.exceptions.Fault) -> tuple[str, str]:
    assert fault.detail is not None, "every fault carries a ServiceError detail"
    error = fault.detail.find(f"{{{NS}}}ServiceError")
    assert error is not None, etree.tostring(fault.detail)
    return error.findtext(f"{{{NS}}}code"), error.findtext(f"{{{NS}}}message")


def test_missing_element_is_a_typed_fault(client):
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.bookMovieTickets(
            userID=xsd.SkipValue, customerID="ATWC0001", movieID="ATWM010126", movieName="Avatar", numberOfTickets=1
        )
    code, message = service_error(raised.value)
    assert code == "MISSING_ELEMENT"
    assert message.strip() and raised.value.message.strip()
    assert client.transport.last_status == expected_fault_status(client)


def test_mistyped_value_is_a_typed_fault(client):
    # zeep writes any Python int for xs:int; 2**40 does not fit, so the server must refuse it as mistyped.
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.addMovieSlots(
            userID="ATWA0001", movieID=movie_id("ATW", "M", show_date(1)), movieName="Avatar", bookingCapacity=2**40
        )
    code, _ = service_error(raised.value)
    assert code == "INVALID_VALUE"
    assert client.transport.last_status == expected_fault_status(client)
    assert listing_of(client, "Avatar") == []
