"""Human-written sizes and durations from the config file ("500MB", "90d", "1h")."""

from __future__ import annotations

import re
from datetime import timedelta

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy])\s*$", re.IGNORECASE)
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string such as "500MB", "1GiB", "64KB".

    >>> parse_size("1.5KB"), parse_size("2MiB"), parse_size(10)
    (1500, 2097152, 10)
    """
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string such as '500MB'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size; write it as bytes or like '500MB' or '2GB'")
    number, unit = float(match.group(1)), (match.group(2) or "").upper()
    binary = "I" in unit
    letter = unit.replace("I", "").replace("B", "")
    factor = 1024 ** ("KMGT".index(letter) + 1) if binary and letter else _SIZE_FACTORS[letter]
    return int(number * factor)


def parse_duration(value: int | str) -> timedelta:
    """A duration from seconds or a string such as "15m", "1h", "90d", "3y".

    >>> parse_duration("90d").days, parse_duration("15m").seconds
    (90, 900)
    """
    if isinstance(value, bool):
        raise ValueError("a duration must be like '15m', '1h' or '30d'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like '15m', '1h', '30d' or '3y'")
    return timedelta(seconds=int(match.group(1)) * _DURATION_SECONDS[match.group(2).lower()])
