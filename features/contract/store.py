"""Embedded DuckDB store: write validated tables, read them back.

One database file holds the contract tables (`sell_through`, `nodes`, and `inventory`,
`central_stock` when given) exactly as validation accepted them, plus `_meta`: one row per
table with the source folder, frequency, ingest time and the rows read, accepted and refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from features.contract.report import ValidationReport
from features.schema import TABLES

__all__ = ["META_TABLE", "read_meta", "read_store", "write_store"]

META_TABLE = "_meta"


def write_store(
    report: ValidationReport, db_path: Path | str, *, source: Path | str | None = None
) -> dict[str, int]:
    """Write the accepted tables of `report` into a DuckDB file, replacing earlier ones.

    Contract tables absent from `report` are dropped, so the file never mixes two ingests.

    Args:
        report: a validation report; only its accepted rows are written.
        db_path: the DuckDB database file (created if needed).
        source: the folder the data came from, for `_meta` (default `report.path`).

    Returns:
        Rows written per table.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    meta = pd.DataFrame(
        [
            {
                "table_name": name,
                "file": report.counts[name].file,
                "rows_read": report.counts[name].read,
                "rows_accepted": report.counts[name].accepted,
                "rows_refused": report.counts[name].refused,
                "freq": report.freq,
                "source": str(Path(source or report.path).resolve()),
                "ingested_at": now,
            }
            for name in report.tables
        ],
        columns=["table_name", "file", "rows_read", "rows_accepted", "rows_refused", "freq",
                 "source", "ingested_at"],
    )
    written: dict[str, int] = {}
    with duckdb.connect(str(db_path)) as con:
        con.begin()
        for name in TABLES:
            if name not in report.tables:
                con.execute(f'DROP TABLE IF EXISTS "{name}"')
        for name, frame in report.tables.items():
            con.register("_incoming", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
            written[name] = len(frame)
        con.register("_incoming", meta)
        con.execute(f'CREATE OR REPLACE TABLE "{META_TABLE}" AS SELECT * FROM _incoming')
        con.unregister("_incoming")
        con.commit()
    return written


def read_store(db_path: Path | str) -> dict[str, pd.DataFrame]:
    """Read the contract tables back, with the dtypes validation gives them.

    Dates come back as datetime64[ns], text as str (None when empty), numbers as float64.

    Raises:
        FileNotFoundError: `db_path` does not exist.
    """
    tables: dict[str, pd.DataFrame] = {}
    with _connect(db_path) as con:
        present = set(con.execute("SELECT table_name FROM duckdb_tables()").df()["table_name"])
        for name in TABLES:
            if name in present:
                tables[name] = _frame(con.sql(f'SELECT * FROM "{name}"'))
    return tables


def read_meta(db_path: Path | str) -> pd.DataFrame:
    """The `_meta` table: one row per ingested table (source, freq, time, row counts)."""
    with _connect(db_path) as con:
        return _frame(con.sql(f'SELECT * FROM "{META_TABLE}"'))


def _connect(db_path: Path | str) -> duckdb.DuckDBPyConnection:
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"DuckDB file `{db_path}` does not exist; run `channelcast "
                                "ingest DIR --db FILE` first")
    return duckdb.connect(str(db_path), read_only=True)


def _frame(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    # Through Arrow, column by column, the same conversion validation uses for its tables.
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("ns"))
        columns[name] = col.to_pandas()
    return pd.DataFrame(columns)
