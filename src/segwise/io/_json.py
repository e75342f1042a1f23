"""JSON files as exports have them: nested records, and lines that are not JSON.

DuckDB reads JSON (an array of records, or one record per line) fast, but stops at the
first malformed line; nested records become columns named by their path later, as for
every format (``order.id``, ``customer.id``: names the roles recognise). Here a file of
one record per line with lines that are not JSON objects (a write cut short, a log line
among the records, a record that names a field twice) is read again without them: each is
a reject with its row and reason, as a CSV's unreadable lines are, so that rows in = rows
kept + rows rejected. An array of records is read again the same way without its records
that are not objects, or that name a field twice; an array that is not valid JSON stops
the load with the line and column where it breaks.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from segwise.exceptions import InputError
from segwise.io._compressed import decompressed

__all__ = ["read_json_rows"]

#: Characters of a rejected line kept in the quarantine.
_KEPT_CHARS = 1000


def read_json_rows(con: duckdb.DuckDBPyConnection, path: Path) -> np.ndarray | None:
    """Read a JSON file into the table ``raw_csv`` (nested records become columns later).

    Returns
    -------
    numpy.ndarray or None
        The rows (records, 1-based) that are not JSON objects, ascending, also in the
        table ``json_rejects`` (``row``, ``reason``, ``raw_line``); None when every row is.

    Raises
    ------
    InputError
        If no row is a JSON object, or an array file is malformed (naming the line).
    """
    rejected = None
    try:
        _read_json(con, path, "auto")
    except duckdb.Error as exc:
        text = str(exc).lower()
        if "malformed json" not in text and "duplicate key" not in text:
            raise
        if not _is_array(path):
            rejected = _read_good_rows(con, path, _lines(path), "line")
        elif (error := _where_malformed(path)) is not None:
            raise error from exc
        else:
            rejected = _read_good_rows(con, path, _array_records(path), "record")
    con.execute("ALTER TABLE raw_json RENAME TO raw_csv")
    return rejected


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, layout: str) -> None:
    """Read the records into ``raw_json``, their types detected from every record if need be.

    DuckDB detects a field's type from the first records: a field that holds numbers
    there and text later ("cars" after 30,000 category ids) stops the read with a cast
    error. The file is then read again with the types detected from all of its records
    (a slower detection, only for such files), which makes that field JSON.
    """
    sql = "CREATE OR REPLACE TEMP TABLE raw_json AS SELECT * FROM read_json(?, format = ?"
    try:
        con.execute(sql + ")", [str(path), layout])
    except duckdb.Error as exc:
        if "failed to cast" not in str(exc).lower():
            raise
        con.execute(sql + ", sample_size = -1)", [str(path), layout])


def _is_array(path: Path) -> bool:
    """Whether the file is one JSON array (not one record per line)."""
    with decompressed(path) as raw:
        head = raw.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return head.startswith("[")


def _where_malformed(path: Path) -> InputError | None:
    """Return the error naming the line and column where a JSON array file breaks."""
    try:
        with decompressed(path) as raw:
            json.load(io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError as exc:
        return InputError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}. Fix: repair the file there, or export it again")
    return None


def _lines(path: Path) -> Iterator[str]:
    """Yield the lines of a file of one record per line that are not blank."""
    with (decompressed(path) as raw,
          io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace") as text):
        yield from (line.rstrip("\r\n") for line in text if line.strip())


_BLANKS = re.compile(r"[ \t\r\n]+")


def _past_blanks(text: str, at: int) -> int:
    """Return the first position from ``at`` on that is not a JSON blank."""
    blanks = _BLANKS.match(text, at)
    return blanks.end() if blanks else at


def _array_records(path: Path) -> Iterator[str]:
    """Yield the text of each value of a JSON array file (valid JSON), on one line each.

    A value's line breaks are blanks between its tokens (a string cannot hold one
    unescaped), so that each is one line of a file of one record per line.
    """
    with decompressed(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace").read()
    decoder = json.JSONDecoder()
    at = _past_blanks(text, text.index("[") + 1)
    while text[at] != "]":
        _, end = decoder.raw_decode(text, at)
        yield text[at:end].replace("\r", " ").replace("\n", " ")
        at = _past_blanks(text, end)
        if text[at] == ",":
            at = _past_blanks(text, at + 1)


def _read_good_rows(con: duckdb.DuckDBPyConnection, path: Path, rows: Iterator[str],
                    what: str) -> np.ndarray:
    """Read the rows (lines or records) that are JSON objects; the others go to ``json_rejects``."""
    rejects: dict[str, list[Any]] = {"row": [], "reason": [], "raw_line": []}
    with tempfile.TemporaryDirectory(prefix="segwise-read-") as tmp:
        good = Path(tmp) / "records.jsonl"
        n = 0
        with good.open("w", encoding="utf-8") as out:
            for n, row in enumerate(rows, start=1):
                reason = _not_an_object(row)
                if reason is None:
                    out.write(row + "\n")
                else:
                    rejects["row"].append(n)
                    rejects["reason"].append(f"unreadable {what} ({reason})")
                    rejects["raw_line"].append(row[:_KEPT_CHARS])
        if rejects["row"] and len(rejects["row"]) == n:
            first = rejects["reason"][0].removeprefix(f"unreadable {what} (")
            raise InputError(f"{path}: no {what} is a JSON object ({what} 1: {first}. Fix: "
                             "export one JSON object per line, or an array of them")
        _read_json(con, good, "newline_delimited")
    con.register("json_rejects_frame", {k: np.array(v, dtype=object if k != "row" else np.int64)
                                        for k, v in rejects.items()})
    con.execute("CREATE TEMP TABLE json_rejects AS SELECT row::BIGINT AS row, reason::VARCHAR "
                "AS reason, raw_line::VARCHAR AS raw_line FROM json_rejects_frame")
    con.unregister("json_rejects_frame")
    return np.asarray(rejects["row"], dtype=np.int64)


def _not_an_object(line: str) -> str | None:
    """Return why a line is not one JSON object, or None when it is.

    A record that names a field twice (``{"event": "view", "event": "click"}``) is not
    one either: which value is meant is unknown, and DuckDB refuses the file for it.
    """
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        repeated.extend(k for k in dict.fromkeys(keys) if keys.count(k) > 1)
        return dict(items)

    try:
        value = json.loads(line, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at character {exc.pos + 1}"
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    return f"field {', '.join(repeated)} given twice" if repeated else None
