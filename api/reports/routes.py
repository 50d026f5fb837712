"""GET /reports/{table}.csv and GET /reports/pack.xlsx: the dashboards as files, authenticated and scoped.

Query parameters: `unit` (a unit's code; default the caller's own), `resolution` (a resolution's
code: it and every programme implementing it; default all), `period` (the reporting discipline's
month, quarter or year; default the last complete month). A unit or resolution the caller may
not read is answered like one that does not exist (404). CSV files are UTF-8 with a byte order
mark (spreadsheets then read Vietnamese names right) and are streamed row by row; the workbook is
written row by row to a temporary file (xlsxwriter's constant memory mode), then streamed.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import anyio
import xlsxwriter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from resolute.api import clock
from resolute.api.access.scope import Scope
from resolute.api.auth.backend import Caller
from resolute.api.i18n import language
from resolute.api.monitoring.discipline import period_bounds
from resolute.api.monitoring.rollups import resolution_family
from resolute.api.org.models import Unit
from resolute.api.reports.tables import TABLES, PackInputs, Row, Table
from resolute.api.resolutions.models import Resolution

__all__ = ["ROUTES"]

BATCH = 500  # rows handed to the workbook's thread at a time
CHUNK = 64 * 1024
LIGHT_COLOURS = {"green": "#C6EFCE", "yellow": "#FFEB9C", "red": "#FFC7CE"}  # the word stays in the cell: never colour alone


def _problem(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **({"field": field} if field else {})}, status_code=status)


async def _inputs(request: Request, scope: Scope) -> PackInputs | JSONResponse:
    """The pack's unit, resolution family and period from the query string, or the problem with them."""
    params = request.query_params
    today = clock.today()
    period = params.get("period") or (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    if len(period) > 7 or period_bounds(period) is None:
        return _problem(400, "INVALID", "a month (2025-09), a quarter (2025-Q3) or a year (2025)", "period")
    unit_code, resolution_code = params.get("unit"), params.get("resolution")
    for name, value in (("unit", unit_code), ("resolution", resolution_code)):
        if value is not None and (len(value) > 80 or "\x00" in value):
            return _problem(400, "INVALID", "not a code", name)
    async with request.state.db.use() as session:
        wanted = Unit.code == unit_code if unit_code is not None else Unit.id == scope.principal.unit_id
        unit = await session.scalar(select(Unit).where(wanted, scope.visible(Unit)))
        if unit is None:
            return _problem(404, "NOT_FOUND", "no such unit in your scope", "unit")
        family = None
        if resolution_code is not None:
            found = await session.scalar(select(Resolution.id).where(Resolution.code == resolution_code, scope.visible(Resolution, probe=True)))
            if found is None:
                return _problem(404, "NOT_FOUND", "no such resolution in your scope", "resolution")
            family = await resolution_family(session, scope, found)
    return PackInputs(unit=unit, resolution_ids=family, period=period, today=today, language=language(request.headers.get("accept-language")))


async def _asked(request: Request) -> tuple[Scope, PackInputs] | Response:
    """The caller's scope and what it asks a report of, or the answer refusing it (401, 400, 404)."""
    user = request.user
    if not isinstance(user, Caller):
        return JSONResponse({"error": "UNAUTHENTICATED", "message": "send Authorization: Bearer <token>"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    scope = Scope(user.account.principal, request.app.state.policy)
    inputs = await _inputs(request, scope)
    return inputs if isinstance(inputs, Response) else (scope, inputs)


def _file_name(p: PackInputs, what: str) -> str:
    return f"resolute-{p.unit.code}-{p.period}-{what}".replace("/", "-")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    """A cell as text; one a spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


async def csv_table(request: Request) -> Response:
    table = TABLES.get(request.path_params["table"])
    if table is None:
        return _problem(404, "NOT_FOUND", f"reports: {', '.join(f'{name}.csv' for name in TABLES)} and pack.xlsx")
    asked = await _asked(request)
    if isinstance(asked, Response):
        return asked
    scope, inputs = asked

    async def body() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        out = csv.writer(buffer)
        buffer.write("\ufeff")
        out.writerow(table.header)
        async with request.state.db.use() as session:
            async for row in table.rows(session, scope, inputs):
                out.writerow([_csv_text(v) for v in row])
                if buffer.tell() >= CHUNK:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    headers = {"Content-Disposition": f'attachment; filename="{_file_name(inputs, table.name)}.csv"', "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


class _Workbook:
    """One workbook written sheet by sheet, row by row (constant memory), off the event loop."""

    def __init__(self, path: str) -> None:
        # text stays text: a milestone titled "=HYPERLINK(...)" must not become a live formula in every leader's workbook
        options = {"constant_memory": True, "default_date_format": "yyyy-mm-dd", "strings_to_formulas": False, "strings_to_urls": False}
        self.book = xlsxwriter.Workbook(path, options)
        self.bold = self.book.add_format({"bold": True})
        self.lights = {name: self.book.add_format({"bg_color": colour}) for name, colour in LIGHT_COLOURS.items()}

    def sheet(self, table: Table) -> Callable[[int, Sequence[Row]], None]:
        sheet = self.book.add_worksheet(table.title[:31])
        sheet.write_row(0, 0, table.header, self.bold)
        sheet.freeze_panes(1, 0)
        coloured = {i for i, name in enumerate(table.header) if name in ("light", "severity")}

        def write(first_row: int, rows: Sequence[Row]) -> None:
            for offset, row in enumerate(rows):
                for col, value in enumerate(row):
                    cell = float(value) if isinstance(value, Decimal) else value
                    fmt = self.lights.get(value) if col in coloured else None
                    if isinstance(cell, date):
                        sheet.write_datetime(first_row + offset, col, cell)
                    elif cell is None:
                        continue
                    else:
                        sheet.write(first_row + offset, col, cell, fmt)

        return write


async def pack(request: Request) -> Response:
    asked = await _asked(request)
    if isinstance(asked, Response):
        return asked
    scope, inputs = asked
    handle, path = tempfile.mkstemp(prefix="resolute-pack-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = _Workbook(path)
        async with request.state.db.use() as session:
            for table in TABLES.values():
                write = workbook.sheet(table)
                batch: list[Row] = []
                next_row = 1
                async for row in table.rows(session, scope, inputs):
                    batch.append(row)
                    if len(batch) >= BATCH:
                        await anyio.to_thread.run_sync(write, next_row, batch)
                        next_row, batch = next_row + len(batch), []
                await anyio.to_thread.run_sync(write, next_row, batch)
        await anyio.to_thread.run_sync(workbook.book.close)
    except BaseException:
        os.unlink(path)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            async with await anyio.open_file(path, "rb") as f:
                while chunk := await f.read(CHUNK):
                    yield chunk
        finally:
            os.unlink(path)

    headers = {"Content-Disposition": f'attachment; filename="{_file_name(inputs, "pack")}.xlsx"', "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers=headers)


ROUTES = [
    Route("/reports/pack.xlsx", pack, methods=["GET"]),
    Route("/reports/{table}.csv", csv_table, methods=["GET"]),
]
