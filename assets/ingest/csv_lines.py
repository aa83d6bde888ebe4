"""The line each CSV row starts on, for lineage and quarantine.

Arrow's CSV reader numbers rows, not lines: it skips empty lines, and a quoted value may hold
line breaks. A steward looks a row up by its line, so each row is given the line it starts on:
the line after the previous row's last one, past the empty lines the scan found.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest.batches import Reject

CHUNK = 4 << 20


class RowLines:
    """Lines of one file's rows, batch by batch in file order (the header is row 1, on
    `header_line`: empty lines may come before it).

    Rejects arrive with Arrow's row number in `line`; they are given their line in the batch
    that reaches their row, so rows are always placed in order.
    """

    def __init__(
        self, blank_lines: np.ndarray, values_may_break: bool = True, header_line: int = 1
    ) -> None:
        self.blanks = blank_lines  # sorted
        self.values_may_break = values_may_break  # no quote in the file: no break in a value
        self.next_blank = 0  # the first empty line not yet passed
        self.next_row = 2  # Arrow's number of the next data row
        self.next_line = header_line + 1  # the first line that may hold it
        self.held: list[Reject] = []
        self.last_start = self.last_span = 1  # where the last row placed starts, its lines

    def place(
        self, table: pa.Table, rejects: list[Reject], final: bool = False
    ) -> tuple[pa.Array, list[Reject]]:
        """The lines of `table`'s rows; and the rejects among them (all left, when `final`),
        with their lines."""
        pending = sorted([*self.held, *rejects], key=lambda r: r.line)
        numbers = row_numbers(self.next_row, table.num_rows, [r.line for r in pending])
        end = np.inf if final else (numbers[-1] if len(numbers) else self.next_row - 1)
        mine = [r for r in pending if r.line <= end]
        self.held = pending[len(mine) :]
        rows = np.concatenate([numbers, np.array([r.line for r in mine], dtype=np.int64)])
        breaks = line_breaks(table) if self.values_may_break else np.zeros(table.num_rows, np.int64)
        spans = 1 + np.concatenate([breaks, [r.raw.count("\n") for r in mine]])
        if mine:  # rejects go among the rows, by their numbers
            order = np.argsort(rows, kind="stable")
            starts = np.empty(len(rows), dtype=np.int64)
            starts[order] = self.starts(spans[order].astype(np.int64))
        else:  # the rows alone are in order already (most batches: no sort)
            starts = self.starts(spans.astype(np.int64))
        if len(rows):
            self.next_row = int(rows.max()) + 1
        lines = starts[len(numbers) :].tolist()
        placed = [dataclasses.replace(r, line=n) for r, n in zip(mine, lines, strict=True)]
        return pa.array(starts[: len(numbers)]), placed

    def starts(self, spans: np.ndarray) -> np.ndarray:
        """The first lines of consecutive rows spanning `spans` lines each: each row follows the
        last, unless an empty line comes between (one inside a row is part of a value)."""
        if not len(spans):
            return np.array([], dtype=np.int64)
        if spans.max() == 1:  # no value breaks a line (most files): no running sum needed
            first = self.next_line + np.arange(len(spans), dtype=np.int64)
        else:
            first = self.next_line + np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        while self.next_blank < len(self.blanks) and self.blanks[self.next_blank] < first[0]:
            self.next_blank += 1  # the header's own, or passed inside a row
        shift = np.zeros(len(spans) + 1, dtype=np.int64)
        moved = 0  # how far the rows from the last shifted one on have moved
        while self.next_blank < len(self.blanks):
            blank = int(self.blanks[self.next_blank])
            row = int(np.searchsorted(first, blank - moved, side="right")) - 1
            if row == len(spans) - 1 and blank >= first[row] + moved + spans[row]:
                break  # after this batch's rows
            if blank == first[row] + moved:  # where this row would start: it starts later
                shift[row] += 1
                moved += 1
            self.next_blank += 1
        lines = first + np.cumsum(shift)[:-1] if moved else first
        self.next_line = int(lines[-1] + spans[-1])
        self.last_start, self.last_span = int(lines[-1]), int(spans[-1])
        return lines

    def open_quote(self, path: Path, lines_in_file: int, quote: str) -> str | None:
        """Why the file cannot be trusted, once all its rows are placed: a quote opened in its
        last row and never closed swallowed the rows after it into one value. None if not."""
        first = self.last_start
        if self.last_span == 1 or not quote_left_open(path, first, lines_in_file, quote):
            return None
        return (
            f"a quote opened in the row on line {first} is never closed: "
            f"the {lines_in_file - first} lines after it would be one value"
        )


def row_numbers(first: int, count: int, rejected: list[int]) -> np.ndarray:
    """Arrow's numbers of the next `count` parsed rows: from `first` on, skipping `rejected`."""
    skipped = np.unique(np.array([n for n in rejected if n >= first], dtype=np.int64))
    if not len(skipped):
        return np.arange(first, first + count, dtype=np.int64)
    candidates = np.arange(first, first + count + len(skipped), dtype=np.int64)
    return candidates[~np.isin(candidates, skipped)][:count]


def line_breaks(table: pa.Table) -> np.ndarray:
    """Line breaks inside each row's values (quoted values may hold them)."""
    counts = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_string(column.type) and any(map(holds_newline, column.chunks)):
            counts += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy()
    return counts


def holds_newline(chunk: pa.Array) -> bool:
    """Whether the bytes behind a text array hold a line break (a fast test before counting)."""
    data = chunk.buffers()[2]
    return data is not None and bool((np.frombuffer(data, dtype=np.uint8) == 10).any())


def quote_left_open(path: Path, first_line: int, lines_in_file: int, quote: str) -> bool:
    """Whether the text from `first_line` to the end of the file holds an odd number of quote
    characters: a quote opened and never closed. Arrow takes such a value as running to the
    end of the file, swallowing every row after it. Read backwards, a chunk at a time."""
    target = lines_in_file - first_line + 1  # from the end, the line break before that line
    quote_byte = quote.encode()
    quotes, breaks = 0, 0
    with open(path, "rb") as handle:
        position = end = handle.seek(0, 2)
        while position > 0:
            step = min(CHUNK, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step)
            if position + step == end and chunk.endswith(b"\n"):
                chunk = chunk[:-1]  # the last line's own line break
            found = chunk.count(b"\n")
            if breaks + found >= target:  # the line starts in this chunk
                cut = len(chunk)
                for _ in range(target - breaks):
                    cut = chunk.rfind(b"\n", 0, cut)
                return (quotes + chunk[cut + 1 :].count(quote_byte)) % 2 == 1
            breaks += found
            quotes += chunk.count(quote_byte)
    return quotes % 2 == 1
