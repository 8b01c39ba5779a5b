"""Show dates and movie IDs as the service sees them: "today" is the Montreal date (booking.md, "Time").

Not a reimplementation of the booking rules: only the date arithmetic the tests need to name valid slots.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

THEATRE_ZONE = ZoneInfo("America/Toronto")
SLOT_NAMES = {"M": "MORNING", "A": "AFTERNOON", "E": "EVENING"}
SLOT_ORDER = {"MORNING": 0, "AFTERNOON": 1, "EVENING": 2}


def montreal_today() -> datetime.date:
    return datetime.datetime.now(THEATRE_ZONE).date()


def show_date(days_from_today: int) -> datetime.date:
    return montreal_today() + datetime.timedelta(days=days_from_today)


def movie_id(theatre: str, slot_letter: str, date: datetime.date) -> str:
    """E.g. movie_id("OUT", "E", date(2026, 11, 28)) == "OUTE281126"."""
    return f"{theatre}{slot_letter}{date:%d%m%y}"


def listing_key(show_date_value: datetime.date, slot_name: str, theatre: str) -> tuple:
    """The order booking.md defines for listings and schedules: date, then M < A < E, then theatre code."""
    return (show_date_value, SLOT_ORDER[slot_name], theatre)
