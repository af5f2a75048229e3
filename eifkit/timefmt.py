"""Times as text: RFC 3339 as eif_build writes it, as users give it, and the default
build time (SOURCE_DATE_EPOCH for reproducible builds, else now)."""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import time
from collections.abc import Mapping

from .errors import InputError
from .inputs import source_date_epoch

# RFC 3339 section 5.6: full-date "T" full-time; "T" and "Z" may be lowercase.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(?:[Zz]|[+-](\d{2}):(\d{2}))",
    re.ASCII,
)


def rfc3339(moment: _dt.datetime) -> str:
    """RFC 3339 as chrono's ``to_rfc3339`` writes a UTC time: ``2024-06-21T12:00:00+00:00``.

    Sub-second digits appear only when non-zero (chrono prints 9 digits for
    nanoseconds; Python has microseconds, printed as chrono prints them: 3, 6 or 9).
    """
    moment = moment.astimezone(_dt.UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    us = moment.microsecond
    if us:
        ns = us * 1000
        if ns % 1_000_000 == 0:
            base += f".{ns // 1_000_000:03d}"
        elif ns % 1000 == 0:
            base += f".{ns // 1000:06d}"
        else:
            base += f".{ns:09d}"
    return base + "+00:00"


def chrono_rfc3339_ns(ns: int) -> str:
    """A UTC time in nanoseconds since the epoch as chrono's ``to_rfc3339`` writes it:
    sub-second digits only when non-zero, 3, 6 or 9 of them."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac % 1_000_000 == 0:
        digits = f".{frac // 1_000_000:03d}" if frac else ""
    elif frac % 1000 == 0:
        digits = f".{frac // 1000:06d}"
    else:
        digits = f".{frac:09d}"
    return base + digits + "+00:00"


def default_build_time(
    environ: Mapping[str, str] | None = None, *, as_eif_build: bool = False
) -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else now, in RFC 3339: in whole
    seconds, or ``as_eif_build`` with its nanoseconds as eif_build writes them."""
    seconds = source_date_epoch(environ)
    if seconds is not None:
        return rfc3339(_dt.datetime.fromtimestamp(seconds, _dt.UTC))
    if as_eif_build:
        return chrono_rfc3339_ns(time.time_ns())
    return rfc3339(_dt.datetime.now(_dt.UTC).replace(microsecond=0))


def is_rfc3339(value: str) -> bool:
    """Whether ``value`` is an RFC 3339 date-time (offset required; leap second allowed)."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    off_h, off_m = (int(g) for g in m.groups()[7:]) if m.group(8) else (0, 0)
    if not 1 <= month <= 12:
        return False
    return (
        1 <= day <= calendar.monthrange(year, month)[1]
        and hour <= 23
        and minute <= 59
        and second <= 60
        and off_h <= 23
        and off_m <= 59
    )


def parse_rfc3339(value: str, what: str) -> _dt.datetime:
    """An RFC 3339 time as an aware UTC datetime (a leap second is read as :59); InputError
    naming ``what`` if ``value`` is not one."""
    if not is_rfc3339(value):
        raise InputError(
            f"{value!r} is not an RFC 3339 time such as 2024-06-21T12:00:00+00:00", field=what
        )
    text = value.upper().replace("Z", "+00:00")
    if text[17:19] == "60":
        text = text[:17] + "59" + text[19:]
    try:
        return _dt.datetime.fromisoformat(text).astimezone(_dt.UTC)
    except (ValueError, OverflowError):
        raise InputError(f"{value!r} is not in the years 1..9999 in UTC", field=what) from None
