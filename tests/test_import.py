"""The importer through its command line (`resolute import DIR`), checked through GraphQL.

All or nothing: a refused import exits with 1, names file:line and the reason on stderr, and
writes nothing (every unit and account is re-read before and after). Idempotent: the same files
imported twice change nothing the second time, not even a version or a timestamp.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from resolute.api.cli import main
from resolute.api.interchange.importer import VACUUMED
from resolute.api.settings import ROOT
from tests.support import PASSWORD, Api, Backend, small_tree, small_users

pytestmark = pytest.mark.committing("`resolute import` and `create-admin` run on their own connection, in a thread: they must see the test's data, and the test theirs")

UNITS = """{ units(first: 100, filter: {includeArchived: true}) { totalCount nodes {
    id code name kind depth version updatedAt archived parent { code } ancestors { code } } } }"""
USERS = """{ users(first: 100, filter: {includeInactive: true}) { totalCount nodes {
    id username fullName active hasPassword version updatedAt unit { code } grants { id role unit { code } } } } }"""
UNIT_HEADER = "code,parent_code,name,kind\n"
USER_HEADER = "username,unit_code,role,full_name\n"
PROGRESS = re.compile(r"^[^ ].*, \d+\.\d s \(at \d+\.\d s\)$")  # "assignments.csv: 2,691 rows read, checked and staged, 0.1 s (at 0.3 s)"
CYCLE_COUNTS = [  # report lines are sorted by table name
    ("assignments", 2691), ("kpi_unit_targets", 270), ("kpis", 123), ("measurements", 1330), ("milestones", 1670), ("objectives", 78),
    ("progress_reports", 3775), ("resolutions", 28), ("task_coordinators", 1573), ("tasks", 827),
]


@pytest.fixture
def cli_env(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line talks to the test database, with cheap password hashing."""
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", backend.url)
    monkeypatch.setenv("RESOLUTE_JWT_SECRET", backend.settings.jwt_secret)
    monkeypatch.setenv("RESOLUTE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("RESOLUTE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.delenv("RESOLUTE_ADMIN_PASSWORD", raising=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small scale of ../shared/dataset, written by the project's vendored generator."""
    out = tmp_path_factory.mktemp("dataset")
    subprocess.run(
        [sys.executable, "api/demo/generator.py", "--scale", "small", "--seed", "1", "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, timeout=60,
    )
    return out


async def cli(*args: str) -> int:
    """Run `resolute ARGS` as the console script does (it calls asyncio.run itself)."""
    return await asyncio.to_thread(main, list(args))


async def state(api: Api, as_user: str = "admin") -> tuple[dict[str, Any], dict[str, Any]]:
    """Every unit and every account with its grants, as an admin of the whole tree sees them."""
    return (await api.data(UNITS, as_user=as_user))["units"], (await api.data(USERS, as_user=as_user))["users"]


def refusal(err: str) -> str:
    """stderr without the progress lines the import prints as it goes (one per phase, each ending in its times)."""
    return "".join(line for line in err.splitlines(keepends=True) if not PROGRESS.match(line.rstrip("\n")))


def write(directory: Path, name: str, content: str | bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def tree_csv(parents: dict[str, str | None] | None = None) -> str:
    """small_tree() as units.csv, with some parents overridden."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "parent_code", "name", "kind"])
    for u in small_tree():
        parent = (parents or {}).get(u.code, u.parent_code)
        writer.writerow([u.code, parent or "", u.name, u.kind])
    return out.getvalue()


# -- the shared dataset ------------------------------------------------------------------------


async def test_import_the_small_dataset_then_again_changes_nothing(
    api: Api, cli_env: None, dataset: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await cli("import", str(dataset))) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:3] == ["units: 95 created, 0 updated, 0 unchanged", "users: 42 created, 0 updated, 0 unchanged", "grants: 42 created, 0 removed"]
    # the working cycle too (seed 1, small scale: FORMAT.md's row counts; KPI duties derived from measurements)
    assert lines[3:-1] == [f"{table}: {n} created, 0 updated" for table, n in CYCLE_COUNTS]
    assert lines[-1].startswith(f"imported {dataset} in ")
    progress = err.splitlines()  # one line per phase on stderr, as it ends, with its counts and times
    assert progress and all(PROGRESS.match(line) for line in progress), err
    assert any(line.startswith("assignments.csv: 2,691 rows read") for line in progress), err
    assert any(line.startswith("progress_reports: 3,775 created,") for line in progress), err
    # then, on PostgreSQL, the filled tables are vacuumed (their index-only scans need it), after the import committed
    vacuumed = [line for line in progress if line.startswith("VACUUM (ANALYZE) of the imported tables")]
    assert len(vacuumed) == (1 if api.engine.dialect.name == "postgresql" else 0), err
    if vacuumed:
        async with api.engine.connect() as conn:
            last = dict((await conn.execute(text("SELECT relname, last_vacuum FROM pg_stat_user_tables"))).all())
        assert all(last[table] is not None for table in VACUUMED), last

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert (await cli("create-admin", "--username", "root", "--password-stdin")) == 0
    assert capsys.readouterr().out.strip() == "admin 'root' over TW and everything below it"
    login = await api.login("root", PASSWORD)
    assert login.status_code == 200, login.text

    units, users = await state(api, "root")
    assert units["totalCount"] == 95 and len(units["nodes"]) == 95
    assert users["totalCount"] == 43  # 42 imported and root
    imported = [u for u in users["nodes"] if u["username"] != "root"]
    assert len(imported) == 42 and not any(u["hasPassword"] for u in imported) and all(u["active"] for u in imported)
    assert all(len(u["grants"]) == 1 and u["grants"][0]["unit"] == u["unit"] for u in imported)
    by_code = {u["code"]: u for u in units["nodes"]}
    assert by_code["TW"]["depth"] == 1 and by_code["TW"]["parent"] is None
    assert sorted(sum(1 for u in units["nodes"] if u["kind"] == kind) for kind in ("province", "commune", "cell")) == [3, 15, 30]
    assert {u["depth"] for u in units["nodes"] if u["kind"] == "cell"} == {4}
    assert all(u["version"] == 1 for u in units["nodes"])
    a_cell = next(u for u in units["nodes"] if u["kind"] == "cell")
    assert [a["code"] for a in a_cell["ancestors"]] == ["TW", a_cell["code"].split("-")[0], a_cell["code"].rsplit("-", 1)[0]]
    by_name = {u["username"]: u for u in users["nodes"]}
    assert by_name["admin"]["grants"][0]["role"] == "admin" and by_name["admin"]["unit"] == {"code": "TW"}
    assert by_name["tw.auditor"]["unit"] == {"code": "A03"} and by_name["tw.auditor"]["grants"][0]["role"] == "auditor"

    assert (await cli("import", str(dataset))) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[:3] == ["units: 0 created, 0 updated, 95 unchanged", "users: 0 created, 0 updated, 42 unchanged", "grants: 0 created, 0 removed"]
    assert out.splitlines()[3:-1] == [f"{table}: 0 created, 0 updated" for table, _ in CYCLE_COUNTS]
    assert await state(api, "root") == (units, users)

    # the API goes on creating units after an import that chose the ids (PostgreSQL: the sequence moved on)
    created = await api.data(
        'mutation($p: ID!) { unitCreate(input: {parentId: $p, code: "P99", name: "Tỉnh Mới", kind: "province"}) { unit { code depth } errors { code } } }',
        {"p": by_code["TW"]["id"]},
        as_user="root",
    )
    assert created["unitCreate"] == {"unit": {"code": "P99", "depth": 2}, "errors": []}


async def test_create_admin_reads_the_password_from_the_environment(api: Api, cli_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    await api.seed(small_tree(), [])
    monkeypatch.setenv("RESOLUTE_ADMIN_PASSWORD", PASSWORD)
    assert (await cli("create-admin", "--username", "p02.root", "--unit", "P02")) == 0
    assert capsys.readouterr().out.strip() == "admin 'p02.root' over P02 and everything below it"
    assert (await api.login("p02.root", PASSWORD)).status_code == 200
    units, users = await state(api, "p02.root")
    assert [u["code"] for u in units["nodes"]] == ["P02", "P02-C01", "P02-C02"]
    assert [(u["username"], [(g["role"], g["unit"]["code"]) for g in u["grants"]]) for u in users["nodes"]] == [("p02.root", [("admin", "P02")])]


# -- refused imports write nothing ---------------------------------------------------------------

REFUSED = [
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nP03-C01,P09,Xã Mới,commune\n"},
        ["units.csv:3: unknown parent 'P09'"],
        id="unknown-parent",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh A,province\nP04,TW,Tỉnh B,province\nP03,TW,Tỉnh C,province\n"},
        ["units.csv:4: duplicate code 'P03' (first at line 2)"],
        id="duplicate-code",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nX1,X2,Ban X1,department\nX2,X1,Ban X2,department\n"},
        ["units.csv:3: cycle: X1 -> X2 -> X1"],
        id="cycle",
    ),
    pytest.param(
        # P01 under its own cell: a cycle through units already stored
        {"units.csv": UNIT_HEADER + "P01,P01-C01-K01,Thành phố Hà Nội,province\n"},
        ["units.csv:2: cycle: ", "P01 -> P01-C01-K01 -> P01-C01 -> P01"],
        id="cycle-through-stored",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nP04,TW,Tỉnh Lạ,planet\n"},
        ["units.csv:3: unknown kind 'planet'"],
        id="bad-kind",
    ),
    pytest.param(
        {"units.csv": "code,parent_code,name\nP03,TW,Tỉnh Mới\n"},
        ["units.csv:1: missing column(s) kind"],
        id="missing-column",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nP04,TW\n"},
        ["units.csv:3: expected 4 fields"],
        id="short-row",
    ),
    pytest.param(
        {"users.csv": USER_HEADER + "p01.new,P01,viewer,Người mới\np03.ghost,P99,viewer,Bóng ma\np01.king,P01,emperor,Vua\n"},
        ["users.csv:3: unknown unit 'P99'", "users.csv:4: unknown role 'emperor'"],
        id="users-unknown-unit-and-role",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER.encode() + "P03,TW,Tỉnh Mới,province\n".encode() + "P04,TW,Xã Tân Phong,province\n".encode("latin-1")},
        ["units.csv:3", "not UTF-8"],
        id="not-utf8",
    ),
    pytest.param(
        # the bad byte lies past the first 8 KiB that the text decoder reads at once
        {"units.csv": (UNIT_HEADER + "".join(f"Q{i:03d},TW,Ban số {i},agency\n" for i in range(400))).encode() + "Q999,TW,Xã Tân Phong,agency\n".encode("latin-1")},
        ["units.csv:402", "not UTF-8"],
        id="not-utf8-past-8k",
    ),
    pytest.param(
        {"units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nROOT2,,Gốc thứ hai,central\n"},
        ["units.csv:3: 'ROOT2' would be a second root"],
        id="second-root",
    ),
    pytest.param(
        {
            "units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nP03-C01,P03,Xã Mới,commune\n",
            "users.csv": USER_HEADER + "p03.admin,P03,admin,Quản trị P03\nP03 Bad,P03-C01,viewer,Tên sai\n",
        },
        ["users.csv:3: bad username 'P03 Bad'"],
        id="valid-units-bad-users-read",
    ),
    pytest.param(
        {
            "units.csv": UNIT_HEADER + "P03,TW,Tỉnh Mới,province\nP03-C01,P03,Xã Mới,commune\nP01-C02,P03,Xã Tân Phong mới,commune\n",
            "users.csv": USER_HEADER + "p03.admin,P03,admin,Quản trị P03\np03.c01.officer,P03-C01,chief,Trưởng\n",
        },
        ["users.csv:3: unknown role 'chief'"],
        id="valid-units-bad-users-load",
    ),
]


@pytest.mark.parametrize(("files", "expected"), REFUSED)
async def test_refused_import_names_the_lines_and_writes_nothing(
    api: Api, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str | bytes], expected: list[str]
) -> None:
    await api.seed(small_tree(), small_users())
    before = await state(api)
    for name, content in files.items():
        write(tmp_path / "in", name, content)
    assert (await cli("import", str(tmp_path / "in"))) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert refusal(err).startswith("import refused, nothing written ("), err
    for fragment in expected:
        assert fragment in refusal(err), (fragment, err)
    assert await state(api) == before


async def test_every_problem_is_reported_at_once(api: Api, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await api.seed(small_tree(), small_users())
    before = await state(api)
    write(tmp_path, "units.csv", UNIT_HEADER + "P03,TW,Tỉnh Mới,planet\nP04,TW,Tỉnh B,province\nP05,PX,Tỉnh C,province\n")
    write(tmp_path, "users.csv", USER_HEADER + "p09.x,P09,viewer,X\n")
    assert (await cli("import", str(tmp_path))) == 1
    err = refusal(capsys.readouterr().err)
    assert err.splitlines() == [
        "import refused, nothing written (3 problem(s)):",
        "  units.csv:2: unknown kind 'planet' (known: agency, cell, central, commune, department, ministry, province)",
        "  units.csv:4: unknown parent 'PX'",
        "  users.csv:2: unknown unit 'P09'",
    ]
    assert await state(api) == before


# -- moves ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("whole_tree", [False, True], ids=["only-the-moved-row", "whole-tree"])
async def test_a_new_parent_in_the_file_moves_the_subtree(api: Api, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], whole_tree: bool) -> None:
    await api.seed(small_tree(), small_users())
    (before_units, _) = await state(api)
    before = {u["code"]: u for u in before_units["nodes"]}
    if whole_tree:
        content = tree_csv({"P01-C01": "P02-C02"})
    else:  # the moved unit, and a rename elsewhere in the same import
        content = UNIT_HEADER + "P01-C01,P02-C02,Phường Hoàn Kiếm,commune\nP02-C01,P02,Xã Đông Hà mới,commune\n"
    write(tmp_path, "units.csv", content)
    assert (await cli("import", str(tmp_path))) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("units: 0 created, 2 updated, 6 unchanged" if whole_tree else "units: 0 created, 3 updated, 0 unchanged")

    (units, _) = await state(api)
    after = {u["code"]: u for u in units["nodes"]}
    assert after["P01-C01"]["parent"] == {"code": "P02-C02"}
    assert [a["code"] for a in after["P01-C01"]["ancestors"]] == ["TW", "P02", "P02-C02"]
    assert after["P01-C01"]["depth"] == 4
    assert after["P01-C01-K01"]["parent"] == {"code": "P01-C01"}
    assert [a["code"] for a in after["P01-C01-K01"]["ancestors"]] == ["TW", "P02", "P02-C02", "P01-C01"]
    assert after["P01-C01-K01"]["depth"] == 5
    changed = {"P01-C01", "P01-C01-K01"} | (set() if whole_tree else {"P02-C01"})
    assert {code for code in after if after[code]["version"] != before[code]["version"]} == changed
    assert all(after[code]["version"] == 2 for code in changed)
    assert {code for code in after if after[code]["updatedAt"] != before[code]["updatedAt"]} == changed
    if not whole_tree:
        assert after["P02-C01"]["name"] == "Xã Đông Hà mới" and after["P02-C01"]["parent"] == {"code": "P02"}

    # the subtree now lies under P02 for every query that walks paths
    p01 = await api.data('{ unit(code: "P01") { descendants(first: 50) { nodes { code } } } }', as_user="admin")
    assert [n["code"] for n in p01["unit"]["descendants"]["nodes"]] == ["P01-C02"]
    p02c02 = await api.data('{ unit(code: "P02-C02") { children { nodes { code } } descendants(first: 50) { totalCount nodes { code } } } }', as_user="admin")
    assert p02c02["unit"]["children"]["nodes"] == [{"code": "P01-C01"}]
    assert [n["code"] for n in p02c02["unit"]["descendants"]["nodes"]] == ["P01-C01", "P01-C01-K01"]
    assert p02c02["unit"]["descendants"]["totalCount"] == 2
    seen_by_p02 = await api.data("{ units(first: 50) { nodes { code } } }", as_user="p02.manager")
    assert [n["code"] for n in seen_by_p02["units"]["nodes"]] == ["P01-C01", "P01-C01-K01", "P02", "P02-C01", "P02-C02"]
    seen_by_p01 = await api.data("{ units(first: 50) { nodes { code } } }", as_user="p01.manager")
    assert [n["code"] for n in seen_by_p01["units"]["nodes"]] == ["P01", "P01-C02"]
    me = await api.data("{ me { ancestors { code } } }", as_user="p01.c01.officer")
    assert [a["code"] for a in me["me"]["ancestors"]] == ["TW", "P02", "P02-C02"]

    # the same file again changes nothing
    snapshot = await state(api)
    assert (await cli("import", str(tmp_path))) == 0
    again = capsys.readouterr().out.splitlines()[0]
    assert again == ("units: 0 created, 0 updated, 8 unchanged" if whole_tree else "units: 0 created, 0 updated, 2 unchanged")
    assert await state(api) == snapshot


async def test_users_csv_decides_imported_grants_but_keeps_api_grants(api: Api, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user demoted or moved in users.csv loses its old imported grant; a grant given through the API stays."""
    await api.seed(small_tree(), small_users())
    ids = await api.data('{ c02: unit(code: "P01-C02") { id } users(first: 50) { nodes { id username } } }', as_user="admin")
    manager_id = next(u["id"] for u in ids["users"]["nodes"] if u["username"] == "p01.manager")
    given = await api.data(
        "mutation($u: ID!, $unit: ID!) { roleGrant(input: {userId: $u, role: \"viewer\", unitId: $unit}) { grant { id } errors { code } } }",
        {"u": manager_id, "unit": ids["c02"]["id"]},
        as_user="p01.admin",
    )
    assert given["roleGrant"]["errors"] == []
    write(tmp_path, "users.csv", "username,unit_code,role,full_name\np01.manager,P01-C01,officer,Người dùng p01.manager\n")
    assert (await cli("import", str(tmp_path))) == 0
    assert "grants: 1 created, 1 removed" in capsys.readouterr().out
    grants = await api.data("{ me { grants { role unit { code } } } }", as_user="p01.manager")
    assert sorted((g["role"], g["unit"]["code"]) for g in grants["me"]["grants"]) == [("officer", "P01-C01"), ("viewer", "P01-C02")]
    units = await api.data("{ units(first: 50) { nodes { code } } }", as_user="p01.manager")
    assert [n["code"] for n in units["units"]["nodes"]] == ["P01-C01", "P01-C01-K01", "P01-C02"]
