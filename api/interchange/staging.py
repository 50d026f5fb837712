"""Staging tables: a big file goes into a temporary table in chunks, and SQL compares it with what is stored.

A file of a million rows is never held in Python: rows are buffered a chunk at a time and copied
(COPY on PostgreSQL, executemany on SQLite) into a table that lives only in this transaction.
The importer then inserts what is new and updates what differs with a few set-based statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Column, Index, Integer, MetaData, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CHUNK", "Stage", "copy_rows"]

T = TypeVar("T")
CHUNK = 20_000  # rows buffered before a copy: a few MB, whatever the size of the file


async def copy_rows(session: AsyncSession, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert plain tuples in bulk, a chunk at a time, without the ORM's bookkeeping per row; on SQLite
    the values are converted as SQLAlchemy's column types would bind them. Answers how many."""
    convert: list[tuple[int, Any]] = []
    if session.bind.dialect.name != "postgresql":
        processors = [table.c[name].type.bind_processor(session.bind.dialect) for name in columns]
        convert = [(i, process) for i, process in enumerate(processors) if process is not None]
    count = 0
    for chunk in _batched(rows, CHUNK):
        await _copy(session, table.name, columns, [_converted(row, convert) for row in chunk] if convert else chunk)
        count += len(chunk)
    return count


async def _copy(session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL (an order of magnitude faster than INSERT), executemany on SQLite."""
    connection = await session.connection()
    if session.bind.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(table, records=rows, columns=list(columns))  # type: ignore[union-attr]
    else:
        await connection.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)  # type: ignore[arg-type]


def _converted(row: tuple[Any, ...], convert: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in convert:
        values[i] = process(values[i])
    return tuple(values)


def _batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last one shorter) of an iterable, read as it goes."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Stage:
    """One temporary table, filled by `add` (and `flush`) and read by SQL once `close` has run. Its first
    column is the row's line in the file: its key, the order new rows are inserted in, and how a
    problem found in SQL names its line."""

    def __init__(self, session: AsyncSession, name: str, *columns: Column[Any], keys: Sequence[Sequence[str]] = ()) -> None:
        """A table `name` of (line, *columns); `keys` are the column lists the importer matches rows by."""
        self.session = session
        self.postgresql = session.bind.dialect.name == "postgresql"
        kwargs = {"postgresql_on_commit": "DROP"} if self.postgresql else {}
        line = Column("line", Integer, primary_key=True, autoincrement=False)  # on SQLite, the rowid: read in file order for free
        self.table = Table(name, MetaData(), line, *columns, prefixes=["TEMPORARY"], **kwargs)
        self.names = [c.name for c in self.table.columns]
        self.keys = [list(key) for key in keys]
        self.count = 0
        self._buffer: list[tuple[Any, ...]] = []

    @property
    def c(self) -> Any:
        return self.table.c

    async def create(self) -> Stage:
        connection = await self.session.connection()
        await connection.run_sync(lambda sync: self.table.create(sync))
        return self

    def date(self, value: date) -> date | str:
        """Dates as the driver copies them: date objects for asyncpg, ISO text as SQLite stores them."""
        return value if self.postgresql else value.isoformat()

    def amount(self, value: Decimal) -> Decimal | str:
        return value if self.postgresql else str(value)

    def add(self, row: tuple[Any, ...]) -> bool:
        """Buffer a row; True when the buffer is full and wants a `flush`."""
        self._buffer.append(row)
        return len(self._buffer) >= CHUNK

    async def flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if not rows:
            return
        self.count += len(rows)
        await _copy(self.session, self.table.name, self.names, rows)

    async def close(self) -> None:
        """Copy what is buffered; then, on PostgreSQL, give the planner statistics (autovacuum never sees a
        temporary table) and let it hash; on SQLite, whose joins are nested loops, index the keys."""
        await self.flush()
        if self.postgresql:
            await self.session.execute(text(f"ANALYZE {self.table.name}"))
            return
        connection = await self.session.connection()
        for number, key in enumerate(self.keys):
            index = Index(f"{self.table.name}_k{number}", *(self.table.c[name] for name in key))
            await connection.run_sync(lambda sync, index=index: index.create(sync))

    async def has_duplicates(self, key: Sequence[str]) -> bool:
        """Whether two rows share a key (a file should not have them; cheap to ask, rare to find)."""
        columns = [self.table.c[name] for name in key]
        query = select(*columns).group_by(*columns).having(func.count() > 1).limit(1)
        return (await self.session.execute(query)).first() is not None

    async def keep_first(self, key: Sequence[str]) -> int:
        """Drop every row but the first (lowest line) of each key, as the importer always has; answers how many."""
        if not await self.has_duplicates(key):
            return 0
        later = self.table.alias("later")
        earlier = self.table.alias("earlier")
        same = [earlier.c[name] == later.c[name] for name in key]
        doomed = select(later.c.line).where(select(earlier.c.line).where(*same, earlier.c.line < later.c.line).exists())
        result = await self.session.execute(self.table.delete().where(self.table.c.line.in_(doomed)))
        return int(result.rowcount or 0)

    async def drop(self) -> None:
        """Gone at the end of the transaction anyway on PostgreSQL (ON COMMIT DROP); SQLite keeps it for the connection."""
        await self.session.execute(text(f"DROP TABLE IF EXISTS {self.table.name}"))
