"""Write batches into the landing folder, with the dirt real exports carry, and keep count.

Row dirt: duplicates, late records (held back to the next day's export), coordinates outside
Pudong, full-width digits, mixed date formats, malformed lines. File dirt: a truncated last
line, a file re-sent under another name. Every injected case is counted for the truth.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from citysim.batch import Batch
from citysim.contracts import SystemSpec
from citysim.formats import (
    CSV_TS_FORMAT,
    DEFAULT_TS_FORMAT,
    OTHER_TS_FORMATS,
    as_text,
    csv_lines,
    gbfs_document,
    jsonl_lines,
    open311_document,
    parquet_table,
    write_parquet_chunk,
)
from citysim.geo import outside_points

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
TEXT_FORMATS = ("csv", "jsonl")
DOCUMENT_FORMATS = ("gbfs", "open311_json")


@dataclass
class FileRecord:
    """What went into one landing file, for the truth's file manifest."""

    system: str
    path: str
    data_rows: int = 0
    malformed_rows: int = 0
    truncated: bool = False
    unreadable: bool = False
    resent_of: str = ""


@dataclass
class OpenText:
    """A text file being written today: its last line (for truncation) and its line count."""

    last_line: str
    lines: int


@dataclass
class Exporter:
    """Appends batches to landing files and injects dirt at `rate`."""

    out: Path
    specs: dict[str, SystemSpec]
    rate: float
    dirt: Counter
    files: dict[str, FileRecord] = field(default_factory=dict)
    held: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    open_text: dict[str, OpenText] = field(default_factory=dict)
    parquet: dict = field(default_factory=dict)
    today: dict[str, None] = field(default_factory=dict)  # paths written today, in order

    def write(self, batch: Batch, rng: np.random.Generator) -> None:
        """Dirty one batch as its system would and add it to its file."""
        spec = self.specs[batch.system]
        frame = batch.frame.reset_index(drop=True)
        if spec.file_format not in DOCUMENT_FORMATS or spec.file_format == "open311_json":
            frame = self.row_dirt(batch.system, frame, spec, rng)
        if frame.empty and spec.file_format in TEXT_FORMATS and batch.path not in self.files:
            return  # nothing to deliver: a unit sends no empty export
        record = self.files.setdefault(batch.path, FileRecord(batch.system, batch.path))
        self.today[batch.path] = None
        target = self.out / batch.path
        target.parent.mkdir(parents=True, exist_ok=True)
        record.data_rows += len(frame)
        fmt = spec.file_format
        if fmt == "parquet":
            write_parquet_chunk(self.parquet, target, frame, spec)
        elif fmt in TEXT_FORMATS:
            lines = self.text_lines(batch, frame, spec, rng, record)
            self.append_lines(batch.path, lines, spec)
        elif fmt == "gbfs":
            target.write_text(
                json.dumps(gbfs_document(batch.system, frame, batch.header), ensure_ascii=False)
            )
        else:
            target.write_text(
                json.dumps(open311_document(frame, spec), ensure_ascii=False, indent=1)
            )

    def row_dirt(
        self, system: str, frame: pd.DataFrame, spec: SystemSpec, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Late records, duplicates and stray coordinates; all formats but feed snapshots."""
        late = self.held.pop(system, [])
        if late:
            self.dirt[system, "late_record"] += sum(len(f) for f in late)
            frame = pd.concat([*late, frame], ignore_index=True)
        if spec.update_semantics == "append" and len(frame) > 1:
            hold = rng.random(len(frame)) < self.rate / 2
            if hold.any():
                self.held[system] = [frame[hold]]
                frame = frame[~hold].reset_index(drop=True)
        dup = rng.random(len(frame)) < self.rate
        if dup.any():
            self.dirt[system, "duplicate_row"] += int(dup.sum())
            frame = pd.concat([frame, frame[dup]]).sort_index(kind="stable").reset_index(drop=True)
        lon_col = "long" if "long" in frame else "lon"
        if lon_col in frame and "lat" in frame:
            stray = (rng.random(len(frame)) < self.rate / 2) & frame[lon_col].notna().to_numpy()
            if stray.any():
                self.dirt[system, "out_of_area"] += int(stray.sum())
                lon, lat = outside_points(rng, int(stray.sum()))
                frame.loc[stray, lon_col], frame.loc[stray, "lat"] = lon, lat
        return frame

    def text_lines(
        self,
        batch: Batch,
        frame: pd.DataFrame,
        spec: SystemSpec,
        rng: np.random.Generator,
        record: FileRecord,
    ) -> list[str]:
        """CSV or JSON lines with full-width digits, mixed dates and malformed lines."""
        system, n = batch.system, len(frame)
        if spec.file_format == "csv":
            text = as_text(frame, spec, CSV_TS_FORMAT.get(system, DEFAULT_TS_FORMAT))
            self.mix_dates(system, frame, text, spec, rng)
            self.fullwidth(system, text, rng)
            lines = csv_lines(text, spec.delimiter, header=batch.path not in self.open_text)
            body_start = 1 if batch.path not in self.open_text else 0
        else:
            lines, body_start = jsonl_lines(frame, spec), 0
        broken = np.flatnonzero(rng.random(n) < self.rate / 2) + body_start
        for i in broken:
            lines[i] = break_line(lines[i], spec, rng)
        record.malformed_rows += len(broken)
        record.data_rows -= len(broken)
        self.dirt[system, "malformed_row"] += len(broken)
        return lines

    def mix_dates(
        self,
        system: str,
        frame: pd.DataFrame,
        text: pd.DataFrame,
        spec: SystemSpec,
        rng: np.random.Generator,
    ) -> None:
        """Some rows written by another client of the system, in another date format."""
        rows = np.flatnonzero(rng.random(len(frame)) < self.rate)
        ts_cols = [c for c, t in spec.columns.items() if t == "TIMESTAMP" and c in frame]
        for i in rows:
            fmt = OTHER_TS_FORMATS[rng.integers(len(OTHER_TS_FORMATS))]
            for c in ts_cols:
                v = frame[c].iat[i]
                if v is not None and v is not pd.NaT and v == v:
                    text.iat[i, text.columns.get_loc(c)] = pd.Timestamp(v).strftime(fmt)
        self.dirt[system, "mixed_date_format"] += len(rows)

    def fullwidth(self, system: str, text: pd.DataFrame, rng: np.random.Generator) -> None:
        """Some rows typed on a Chinese input method: digits come out full-width."""
        rows = np.flatnonzero(rng.random(len(text)) < self.rate)
        numeric = [c for c in text.columns if text[c].str.contains(r"\d", regex=True).any()]
        for i in rows:
            c = numeric[rng.integers(len(numeric))] if numeric else None
            if c is not None:
                text.iat[i, text.columns.get_loc(c)] = text.iat[
                    i, text.columns.get_loc(c)
                ].translate(FULLWIDTH)
        self.dirt[system, "fullwidth_digits"] += len(rows) if numeric else 0

    def append_lines(self, rel: str, lines: list[str], spec: SystemSpec) -> None:
        """Append lines to a text file as they come (memory stays flat); BOM only at its start."""
        if not lines:
            return
        state = self.open_text.get(rel)
        with open(self.out / rel, "ab" if state else "wb") as handle:
            handle.write(encode("\n".join(lines) + "\n", spec.encoding, bom=state is None))
        self.open_text[rel] = OpenText(lines[-1], (state.lines if state else 0) + len(lines))

    def finish_day(self, rng: np.random.Generator) -> None:
        """Close the day's files; truncate some last lines; re-send some files."""
        for rel, state in self.open_text.items():
            if state.lines > 2 and rng.random() < self.rate * 3:
                self.truncate_last_line(rel, state)
        for writer in self.parquet.values():
            writer.close()
        self.open_text.clear()
        self.parquet.clear()
        self.resend([self.files[p] for p in self.today], rng)
        self.today.clear()

    def truncate_last_line(self, rel: str, state: OpenText) -> None:
        """Cut the file's last line in half and drop its line end, as an export cut off does."""
        record = self.files[rel]
        encoding = self.specs[record.system].encoding
        tail = encode(state.last_line + "\n", encoding, bom=False)
        cut = encode(state.last_line[: max(1, len(state.last_line) // 2)], encoding, bom=False)
        with open(self.out / rel, "r+b") as handle:
            handle.truncate(handle.seek(0, 2) - len(tail))
            handle.seek(0, 2)
            handle.write(cut)
        record.truncated = True
        record.data_rows -= 1
        record.malformed_rows += 1
        self.dirt[record.system, "truncated_last_line"] += 1

    def resend(self, todays: list[FileRecord], rng: np.random.Generator) -> None:
        """Re-deliver a few files unchanged under another name, as legacy exporters do."""
        for record in todays:
            if rng.random() < self.rate * 3:
                copy = resent_name(Path(record.path), self.specs[record.system])
                (self.out / copy).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.out / record.path, self.out / copy)
                self.files[str(copy)] = FileRecord(
                    record.system,
                    str(copy),
                    record.data_rows,
                    record.malformed_rows,
                    record.truncated,
                    record.unreadable,
                    record.path,
                )
                self.dirt[record.system, "resent_file"] += 1

    def flush_held(self) -> None:
        """Before the last day closes, held-back rows are delivered after all (nothing is lost)."""
        for system, frames in self.held.items():
            spec = self.specs[system]
            last = max(
                (r for r in self.files.values() if r.system == system and not r.resent_of),
                key=lambda r: r.path,
            )
            frame = pd.concat(frames, ignore_index=True)
            last.data_rows += len(frame)
            if self.out / last.path in self.parquet:
                write_parquet_chunk(self.parquet, self.out / last.path, frame, spec)
                continue
            if last.path in self.open_text:
                self.append_lines(last.path, self.plain_lines(frame, spec), spec)
                continue
            copies = [r for r in self.files.values() if r.resent_of == last.path]
            content = self.appended(self.out / last.path, frame, spec)
            for record in (last, *copies):  # a re-sent copy stays a byte copy
                (self.out / record.path).write_bytes(content)
                if record is not last:
                    record.data_rows += len(frame)
        self.held.clear()

    @staticmethod
    def plain_lines(frame: pd.DataFrame, spec: SystemSpec) -> list[str]:
        """Rows as the system writes them, without a header and without dirt."""
        if spec.file_format == "csv":
            text = as_text(frame, spec, CSV_TS_FORMAT.get(spec.id, DEFAULT_TS_FORMAT))
            return csv_lines(text, spec.delimiter, header=False)
        return jsonl_lines(frame, spec)

    def appended(self, target: Path, frame: pd.DataFrame, spec: SystemSpec) -> bytes:
        """The file's bytes with the rows added at its end, in its own format."""
        if spec.file_format == "parquet":
            merged = pd.concat([pq.read_table(target).to_pandas(), frame], ignore_index=True)
            sink = pa.BufferOutputStream()
            pq.write_table(parquet_table(merged, spec), sink, compression="zstd")
            return sink.getvalue().to_pybytes()
        lines = self.plain_lines(frame, spec)
        raw = target.read_bytes()
        sep = b"" if raw.endswith(b"\n") or not raw else b"\n"
        return raw + sep + encode("\n".join(lines) + "\n", spec.encoding, bom=False)


def encode(text: str, encoding: str, bom: bool = True) -> bytes:
    """Bytes in the system's encoding ('utf-8-sig' writes a BOM at the start of the file)."""
    if encoding == "utf-8-sig" and not bom:
        return text.encode("utf-8")
    return text.encode(encoding)


def break_line(line: str, spec: SystemSpec, rng: np.random.Generator) -> str:
    """A malformed line: a lost delimiter or an extra one (CSV), or broken JSON."""
    if spec.file_format == "jsonl":
        return line[: max(1, len(line) - rng.integers(2, 12))]
    d = spec.delimiter
    if d in line and rng.random() < 0.5:
        i = line.index(d)
        return line[:i] + line[i + 1 :]
    return line + d + "多余字段"


def resent_name(rel: Path, spec: SystemSpec) -> Path:
    """Where a re-sent copy lands: a renamed file, or a renamed folder where names are fixed."""
    renamed_file = rel.with_name(f"{rel.stem}_resent{rel.suffix}")
    if spec.delivers(str(renamed_file)):
        return renamed_file
    return rel.parent.with_name(f"{rel.parent.name}_resent") / rel.name
