"""Read a data folder into raw tables, keeping every CSV cell as text.

A folder holds one file per contract table (`features.schema.TABLES`): `sell_through` and
`nodes` are required, `inventory` and `central_stock` optional. Each may be `NAME.csv` or
`NAME.parquet`. Nothing is parsed here beyond splitting cells: ids such as `007` stay `007`,
and `features.contract.validation` decides what each cell means.

Row numbers are the ones the user sees: for CSV the file line (the header is line 1, so the
first data row is row 2; a quoted cell spanning lines moves the next rows down accordingly);
for Parquet the 1-based row index. Blank CSV lines hold no data: they are skipped, counted in
`RawTable.blank_lines`, and the line numbers of the rows after them stay right.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.contract.errors import DataContractError
from features.schema import TABLES

__all__ = ["EXTENSIONS", "FileError", "RawFolder", "RawTable", "read_folder", "read_table"]

EXTENSIONS = ("csv", "parquet")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class FileError:
    """A contract file that is missing or cannot be read at all.

    Attributes:
        table: contract table name, e.g. `sell_through`.
        file: the file name (or `NAME.csv|parquet` when none was found).
        rule: `missing_file`, `ambiguous_file` or `unreadable_file`.
        message: what is wrong and what to do.
    """

    table: str
    file: str
    rule: str
    message: str


@dataclass
class RawTable:
    """One contract file as read: raw cells plus the row number the user sees for each row.

    Attributes:
        name: contract table name (`sell_through`, `nodes`, ...).
        path: the file read.
        data: the cells; for CSV every column is text, for Parquet the file's own types.
        row_numbers: per row, the CSV line number or the 1-based Parquet row index.
        blank_lines: CSV lines skipped because every cell was empty.
    """

    name: str
    path: Path
    data: pa.Table
    row_numbers: npt.NDArray[np.int64]
    blank_lines: int = 0

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def format(self) -> str:
        return "parquet" if self.path.suffix.lower() == ".parquet" else "csv"

    @property
    def n_rows(self) -> int:
        return self.data.num_rows

    @property
    def columns(self) -> list[str]:
        return list(self.data.column_names)

    def frame(self) -> pd.DataFrame:
        """The raw cells as a DataFrame (text columns for CSV)."""
        return self.data.to_pandas()


@dataclass
class RawFolder:
    """The contract files found in a folder, and the ones that are missing or unreadable."""

    path: Path
    tables: dict[str, RawTable] = field(default_factory=dict)
    errors: dict[str, FileError] = field(default_factory=dict)


def read_folder(path: Path | str) -> RawFolder:
    """Read every contract file in `path`.

    Missing, ambiguous (both CSV and Parquet) and unreadable files are recorded in
    `RawFolder.errors` rather than raised, so one run reports everything.

    Raises:
        FileNotFoundError: `path` is not an existing folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder `{folder}` does not exist or is not a folder")
    out = RawFolder(path=folder)
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    for name, spec in TABLES.items():
        found = [p for ext in EXTENSIONS if (p := folder / f"{name}.{ext}").is_file()]
        if len(found) > 1:
            out.errors[name] = FileError(
                name, f"{name}.csv|parquet", "ambiguous_file",
                f"both {found[0].name} and {found[1].name} exist; keep only one of them",
            )
        elif not found:
            if spec.required:
                out.errors[name] = FileError(
                    name, f"{name}.csv|parquet", "missing_file",
                    f"missing required file: put {name}.csv or {name}.parquet in {folder} "
                    f"(columns: {', '.join(spec.required_columns)})" + _near_file(name, present),
                )
        else:
            try:
                out.tables[name] = read_table(found[0], name=name)
            except DataContractError as err:
                message = str(err).removeprefix(f"{found[0].name}: ")
                out.errors[name] = FileError(name, found[0].name, "unreadable_file", message)
    return out


def read_table(path: Path | str, *, name: str | None = None) -> RawTable:
    """Read one CSV or Parquet file; CSV cells are kept as text.

    Args:
        path: a `.csv` or `.parquet` file.
        name: the contract table it holds; defaults to the file stem.

    Raises:
        DataContractError: the file cannot be read; the message says why and what to do.
    """
    path = Path(path)
    name = name or path.stem
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path, name)
    if suffix == ".csv":
        return _read_csv(path, name)
    raise DataContractError(f"{path.name}: unsupported file type; use .csv or .parquet")


def _near_file(name: str, present: list[str]) -> str:
    close = difflib.get_close_matches(name, [Path(p).stem for p in present], n=1, cutoff=0.6)
    if not close:
        close = [p for p in present if Path(p).stem.lower() == name.lower()]
    if not close:
        return ""
    hit = next(p for p in present if Path(p).stem == Path(close[0]).stem)
    return f"; found `{hit}`: rename it to {name}.csv or {name}.parquet if that is the file"


def _read_parquet(path: Path, name: str) -> RawTable:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise DataContractError(
            f"{path.name}: cannot read as Parquet ({err}); re-export the file as Parquet or CSV"
        ) from err
    _check_unique_header(path.name, table.column_names)
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return RawTable(name=name, path=path, data=table, row_numbers=rows)


def _read_csv(path: Path, name: str) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataContractError(f"{path.name}: cannot open the file ({err.strerror})") from err
    names, delimiter = _header(path.name, data)
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    table = _read_csv_fast(data, names, delimiter)
    # Fast path only when every line after the header is one row: then row = line number.
    if table is not None and table.num_rows == n_lines - 1:
        rows = np.arange(2, table.num_rows + 2, dtype=np.int64)
        return RawTable(name=name, path=path, data=table, row_numbers=rows)
    return _read_csv_careful(path, name, data, names, delimiter, n_lines)


def _header(file: str, data: bytes) -> tuple[list[str], str]:
    first = data.split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as err:
        raise DataContractError(
            f"{file}: the header line is not UTF-8 text; save the file as CSV UTF-8"
        ) from err
    if not line.strip():
        raise DataContractError(
            f"{file}: the file is empty or its first line is blank; line 1 must be the header"
        )
    delimiter = next((d for d in _DELIMITERS if d in line), ",")
    names = [n.strip() for n in next(csv.reader([line], delimiter=delimiter))]
    _check_unique_header(file, names)
    return names, delimiter


def _check_unique_header(file: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DataContractError(
                f"{file}: column '{n}' appears twice in the header; keep one of them"
            )
        if not n:
            raise DataContractError(
                f"{file}: the header has an empty column name; name every column or remove it"
            )
        seen.add(n)


def _read_csv_fast(data: bytes, names: list[str], delimiter: str) -> pa.Table | None:
    try:
        return pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None  # the careful reader names the line


def _read_csv_careful(
    path: Path, name: str, data: bytes, names: list[str], delimiter: str, n_lines: int
) -> RawTable:
    try:
        frame = pd.read_csv(
            io.BytesIO(data), sep=delimiter, header=None, skiprows=1, names=names,
            dtype=str, na_filter=False, keep_default_na=False, skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataContractError(
            f"{path.name}: line {line} is not UTF-8 text (byte {data[err.start]:#04x}); "
            "save the file as CSV UTF-8"
        ) from err
    except (pd.errors.ParserError, ValueError) as err:
        raise DataContractError(_too_many_cells(path.name, data, names, delimiter)
                                or f"{path.name}: cannot read as CSV ({str(err).strip()})") from err
    n = len(frame)
    if n + 1 == n_lines or n == 0:
        rows = np.arange(2, n + 2, dtype=np.int64)
    else:  # quoted cells span lines: each row starts after the newlines in the rows before it
        newlines = np.zeros(n, dtype=np.int64)
        for col in frame.columns:
            newlines += frame[col].str.count("\n").to_numpy(dtype=np.int64)
        before = np.concatenate([[0], np.cumsum(newlines)[:-1]])
        rows = np.arange(2, n + 2, dtype=np.int64) + before
    blank = np.ones(n, dtype=bool)
    for col in frame.columns:
        blank &= (frame[col] == "").to_numpy()
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(pa.schema([(c, pa.string()) for c in names]))
    return RawTable(name=name, path=path, data=table, row_numbers=rows,
                    blank_lines=int(blank.sum()))


def _too_many_cells(file: str, data: bytes, names: list[str], delimiter: str) -> str | None:
    # Only on the error path: the csv module knows physical line numbers even when quoted
    # cells span lines (pandas counts records, not lines).
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader, None)
    bad: list[tuple[int, int]] = []
    start = reader.line_num + 1
    for record in reader:
        if len(record) > len(names):
            bad.append((start, len(record)))
        start = reader.line_num + 1
    if not bad:
        return None
    line, cells = bad[0]
    more = (f" ({len(bad)} such lines: {', '.join(str(b[0]) for b in bad[:5])}"
            f"{', ...' if len(bad) > 5 else ''})") if len(bad) > 1 else ""
    return (f"{file}: line {line} has {cells} cells but the header has {len(names)}{more}; "
            f"quote cells that contain {delimiter!r} or remove the extra cells")
