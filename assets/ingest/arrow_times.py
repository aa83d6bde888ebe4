"""Local times written `YYYY-MM-DD HH:MM:SS`, read from a text column's Arrow buffers without a
query.

Most exports write their times so (`validate.COMMON_FORMAT`). DuckDB's parsing of them, with
the checks around it, was the dearest part of the gas readings' validation query (16 ms of
37 for 130,000 rows); a check of the layout over the bytes and Arrow's cast take about 4 ms.
A batch whose every value is such a time, with a real date and clock time, is given to
its validation query already parsed; any other batch, and any column with a missing value,
keeps the query's own parsing, so values and reasons are the same either way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest.arrow_text import fixed_width_rows

WIDTH = 19
SEPARATORS = {4: "-", 7: "-", 10: " ", 13: ":", 16: ":"}
SEPARATORS_AT = np.array(list(SEPARATORS))
SEPARATOR_BYTES = np.frombuffer("".join(SEPARATORS.values()).encode(), np.uint8)
DIGITS_AT = np.array([at for at in range(WIDTH) if at not in SEPARATORS])  # YYYYMMDDhhmmss


def layout_times(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The values as naive times (microseconds), if every value of the text column is written
    `YYYY-MM-DD HH:MM:SS` and is a real date and clock time (hours to 23, minutes and seconds
    to 59); None otherwise, and for a column holding a NULL. The layout is checked over the
    bytes; Arrow's cast then reads the digits and refuses an impossible date or time."""
    if column.null_count or not all(map(laid_out, column.chunks)):
        return None
    try:
        return pc.cast(column, pa.timestamp("us"))
    except pa.ArrowInvalid:  # 2023-02-29, 24:00:00, 23:59:60, ...
        return None


def laid_out(chunk: pa.Array) -> bool:
    """Whether every value of a string chunk has the layout's separators and digits."""
    rows = fixed_width_rows(chunk, WIDTH) if len(chunk) else np.zeros((0, WIDTH), np.uint8)
    return (
        rows is not None
        and bool((rows[:, SEPARATORS_AT] == SEPARATOR_BYTES).all())
        and not ((rows[:, DIGITS_AT] - np.uint8(ord("0"))) > 9).any()  # below '0' wraps
    )
