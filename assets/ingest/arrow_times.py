"""Local times written `YYYY-MM-DD HH:MM:SS`, read from a text column's Arrow buffers without a
query.

Most exports write their times so (`validate.COMMON_FORMAT`). DuckDB's parsing of them, with
the checks around it, was the dearest part of the gas readings' validation query (16 ms of
37 for 130,000 rows); over the bytes it is a few numpy operations on the batch's columns of
digits. A batch whose every value is such a time, with a real date and clock time, is given to
its validation query already parsed; any other batch, and any column with a missing value,
keeps the query's own parsing, so values and reasons are the same either way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from assets.ingest.arrow_text import fixed_width_rows

WIDTH = 19
SEPARATORS = {4: "-", 7: "-", 10: " ", 13: ":", 16: ":"}
SEPARATORS_AT = np.array(list(SEPARATORS))
SEPARATOR_BYTES = np.frombuffer("".join(SEPARATORS.values()).encode(), np.uint8)[:, None]
DIGITS_AT = np.array([at for at in range(WIDTH) if at not in SEPARATORS])  # YYYYMMDDhhmmss


def layout_times(column: pa.ChunkedArray) -> np.ndarray | None:
    """Microseconds since 1970-01-01 00:00 of each value as written (naive), if every value of
    the text column is `YYYY-MM-DD HH:MM:SS` with a real date in the years 1 to 9999 and a clock
    time (hours to 23, minutes and seconds to 59); None otherwise, and for a column holding a
    NULL."""
    if column.null_count:
        return None
    parts = []
    for chunk in column.chunks:
        rows = fixed_width_rows(chunk, WIDTH) if len(chunk) else np.zeros((0, WIDTH), np.uint8)
        micros = None if rows is None else rows_as_times(rows)
        if micros is None:
            return None
        parts.append(micros)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def rows_as_times(rows: np.ndarray) -> np.ndarray | None:
    """The times of a byte matrix of 19-byte values, as `layout_times` reads them."""
    columns = rows.T  # one contiguous row per byte position below: numpy's fast loops
    if not (columns[SEPARATORS_AT] == SEPARATOR_BYTES).all():
        return None
    digits = columns[DIGITS_AT] - np.uint8(ord("0"))  # below '0' wraps past 9
    if (digits > 9).any():
        return None
    pairs = digits[0::2] * np.uint8(10) + digits[1::2]  # YY YY MM DD hh mm ss, each to 99
    year = pairs[0].astype(np.int16) * 100 + pairs[1]
    month, day, hour, minute, second = pairs[2:]
    month_days = LONGEST_MONTH[np.minimum(month, 13)]
    real = (year >= 1) & (month >= 1) & (day >= 1) & (day <= month_days)
    if not (real & (hour <= 23) & (minute <= 59) & (second <= 59)).all():
        return None
    leap_day = (month == 2) & (day == 29)
    if leap_day.any() and not is_leap(year[leap_day]).all():
        return None
    days = MONTH_STARTS[(year.astype(np.int32) - 1) * 12 + month - 1] + (day - 1)
    clock = hour.astype(np.int32) * 3_600 + minute.astype(np.int32) * 60 + second
    return (days.astype(np.int64) * 86_400 + clock) * 1_000_000


def is_leap(year: np.ndarray) -> np.ndarray:
    """Whether each year is a leap year of the Gregorian calendar."""
    return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def days_since_1970(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to each proleptic Gregorian date (Howard Hinnant's `days_from_civil`:
    a year counted from March, so that the leap day comes last)."""
    year = year - (month <= 2)
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    of_400_years = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146_097 + of_400_years - 719_468


# The day each month of the years 1 to 9999 starts on (480 KB): a time's date is one lookup.
_YEARS, _MONTHS = np.divmod(np.arange(9999 * 12, dtype=np.int64), 12)
MONTH_STARTS = days_since_1970(_YEARS + 1, _MONTHS + 1, np.ones_like(_YEARS)).astype(np.int32)
LONGEST_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0], dtype=np.uint8)
