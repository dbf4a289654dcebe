"""Uploaded tables: CSV text or an Excel workbook (.xlsx), checked before anything reads them.

A file is data, never code: its type is decided by its bytes (an .xlsx is a zip with an Excel
workbook inside, a CSV is text without NUL bytes), its size and, for a workbook, its unpacked size
are limited, macro-enabled and old binary workbooks are refused, and cells are read as the values
Excel saved (``data_only``: formulas are never evaluated). Rows keep the number a person sees in
Excel or a text editor, so every error can say where it is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # old .xls (and other OLE files)
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000
CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx",)


class TableError(ValueError):
    """The file cannot be read as a table; the message names the file and why."""


@dataclass
class Table:
    """A file's header and rows; ``rows`` are (row number as the user sees it, cell values)."""

    file: str
    kind: str                       # "csv" or "xlsx"
    header: list[str]
    header_row: int
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    sheet: str | None = None

    def where(self, row: int) -> str:
        """``file:row`` or ``file[sheet]:row``."""
        return f"{self.file}[{self.sheet}]:{row}" if self.sheet else f"{self.file}:{row}"

    def column(self, index: int) -> str:
        """How the user finds a column: its header, and its letter in a workbook."""
        name = self.header[index] if index < len(self.header) else ""
        if self.kind == "xlsx":
            return f"column {_letters(index)} '{name}'"
        return f"column '{name}'"


def _letters(index: int) -> str:
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def sniff_kind(data: bytes, filename: str) -> str:
    """"csv" or "xlsx" from the name and the bytes, which must agree; TableError otherwise."""
    lower = filename.lower()
    looks_zip = data[:4] == ZIP_MAGIC
    if data[:8] == OLE_MAGIC:
        raise TableError(f"{filename}: an old binary Excel file (.xls) or other OLE document; "
                         "save it as .xlsx or CSV (UTF-8) and import that")
    if lower.endswith(".xlsm") or lower.endswith(".xls"):
        raise TableError(f"{filename}: only .xlsx workbooks and .csv text are accepted (no .xls or macro-enabled .xlsm)")
    if lower.endswith(XLSX_SUFFIXES):
        if not looks_zip:
            raise TableError(f"{filename}: not an .xlsx workbook (an .xlsx is a zip file starting with 'PK')")
        return "xlsx"
    if lower.endswith(CSV_SUFFIXES):
        if looks_zip:
            raise TableError(f"{filename}: a zip/Excel file named .csv; name it .xlsx or save it as CSV text")
        return "csv"
    if "." in filename.rsplit("/", 1)[-1]:
        raise TableError(f"{filename}: file type not accepted (use .csv or .xlsx)")
    return "xlsx" if looks_zip else "csv"


def read_table(data: bytes, filename: str, *, max_bytes: int, max_rows: int) -> Table:
    """Check and read a CSV or .xlsx file into a :class:`Table`; TableError names what is wrong."""
    if len(data) == 0:
        raise TableError(f"{filename}: the file is empty")
    if len(data) > max_bytes:
        raise TableError(f"{filename}: {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    kind = sniff_kind(data, filename)
    table = _read_xlsx(data, filename) if kind == "xlsx" else _read_csv(data, filename)
    if len(table.rows) > max_rows:
        raise TableError(f"{filename}: {len(table.rows):,} rows is over the limit of {max_rows:,} rows per file")
    return table


def _decode(data: bytes, filename: str) -> str:
    if b"\x00" in data:
        raise TableError(f"{filename}: contains NUL bytes: a binary file, not CSV text")
    for enc in ("utf-8-sig", "gb18030"):   # Excel in Chinese saves "CSV" as GBK; GB18030 is its superset
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly any byte string; kept for clarity
        raise TableError(f"{filename}: not UTF-8 or GB18030 text")
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\r\n")
    if bad:
        raise TableError(f"{filename}: {bad} control characters in the first part of the file: not CSV text")
    return text


def _read_csv(data: bytes, filename: str) -> Table:
    text = _decode(data, filename)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if any(d in first for d in ",\t;") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list[Any]]] = []
    last = 0
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header, header_row = [c.strip() for c in cells], start
                continue
            rows.append((start, cells))
    except csv.Error as exc:
        raise TableError(f"{filename}:{reader.line_num}: not valid CSV: {exc}") from None
    if header is None:
        raise TableError(f"{filename}: no header row (the first line names the columns)")
    return Table(filename, "csv", header, header_row, rows)


def _check_zip(data: bytes, filename: str) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise TableError(f"{filename}: a damaged .xlsx (zip) file: {exc}") from None
    with zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        if len(infos) > MAX_ZIP_MEMBERS:
            raise TableError(f"{filename}: {len(infos)} parts inside the workbook; not a plain data workbook")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise TableError(f"{filename}: a zip file but not an Excel workbook (no xl/workbook.xml)")
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise TableError(f"{filename}: the workbook contains macros (VBA); save it as a plain .xlsx")
        unpacked = sum(i.file_size for i in infos)
        if unpacked > MAX_UNPACKED_BYTES:
            raise TableError(f"{filename}: unpacks to {unpacked:,} bytes, over the limit of {MAX_UNPACKED_BYTES:,}")


def _read_xlsx(data: bytes, filename: str) -> Table:
    _check_zip(data, filename)
    import openpyxl  # here: only an Excel upload needs it
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad workbook
        raise TableError(f"{filename}: cannot read the workbook: {type(exc).__name__}: {exc}") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise TableError(f"{filename}: the workbook has no worksheet")
        header: list[str] | None = None
        header_row = 0
        rows: list[tuple[int, list[Any]]] = []
        for n, values in enumerate(ws.iter_rows(values_only=True), start=ws.min_row or 1):
            cells = list(values)
            if not any(v is not None and str(v).strip() for v in cells):
                continue
            if header is None:
                header, header_row = [str(v).strip() if v is not None else "" for v in cells], n
                continue
            rows.append((n, cells))
        if header is None:
            raise TableError(f"{filename}[{ws.title}]: no header row (the first row names the columns)")
        return Table(filename, "xlsx", header, header_row, rows, sheet=ws.title)
    finally:
        wb.close()
