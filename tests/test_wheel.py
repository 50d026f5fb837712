"""A non-editable install works: build the wheel, install it alone into a fresh venv, migrate and export from it.

The wheel is built from a copy of the checkout's working tree (what git lists: no .venv, build/, var/,
*.egg-info or caches): an in-place build would leave build/ and resolute.egg-info in the checkout, and a
stale build/lib would ship deleted modules in the next wheel. The fresh venv gets no pip and no
dependencies of its own: a .pth file lists this interpreter's site-packages, whose directories are
appended to sys.path without running the .pth files inside them, so the editable install's finder
(which maps `resolute` to the checkout) stays inactive and `resolute` can only come from the wheel.
Runs once, on SQLite, without the backend fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from contextlib import closing
from importlib import metadata, util
from pathlib import Path

import pytest
from packaging.version import Version

from resolute.api.settings import ROOT

venv = pytest.importorskip("venv")

TIMEOUT = 120
# Without git, never copied into the build tree: VCS, environments, build output, what the defaults write, caches.
SKIP_AT_ROOT = {".git", ".venv", "build", "dist", "var", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}


def _copy_source(dest: Path) -> None:
    """The working tree as git sees it (tracked and new files, nothing .gitignore'd), else all but SKIP_AT_ROOT."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True, timeout=TIMEOUT).stdout
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, dest, ignore=lambda d, names: {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info")) or (Path(d) == ROOT and n in SKIP_AT_ROOT)})
        return
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file may be deleted in the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _isolation_flags() -> list[str]:
    """--no-build-isolation when this venv's setuptools can build the wheel (>= 68, with bdist_wheel), else none."""
    try:
        version = Version(metadata.version("setuptools"))
    except metadata.PackageNotFoundError:
        return []
    if version >= Version("70.1") or (version >= Version("68") and util.find_spec("wheel") is not None):
        return ["--no-build-isolation"]
    return []  # an isolated build fetches setuptools>=68 (pyproject.toml [build-system])


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _expected_files(src: Path) -> set[str]:
    """What the wheel must hold: every module of api/ and schema/, the migrations, the policies, the web page's files."""
    files = {p for top in ("api", "schema") for p in (src / top).rglob("*.py") if "__pycache__" not in p.parts}
    files |= {src / "migrations" / "env.py", src / "migrations" / "script.py.mako", src / "policies" / "model.conf", src / "policies" / "policy.csv"}
    files |= set((src / "migrations" / "versions").glob("*.py"))
    files |= {p for p in (src / "web").rglob("*") if p.is_file()}  # the page and GraphiQL, served offline
    return {f"resolute/{p.relative_to(src).as_posix()}" for p in files}


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from resolute.schema.export import export_sdl

    # 1. Build the wheel from a copy of the working tree, and check the build and the wheel.
    src = tmp_path / "src"
    _copy_source(src)
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", *_isolation_flags(), "--wheel-dir", str(dist), "."], cwd=src)
    warnings = [line.strip() for line in (built.stdout + built.stderr).splitlines() if "absent from the `packages` configuration" in line]
    assert not warnings, "setup.py leaves importable folders out of `packages`:\n" + "\n".join(warnings)
    (wheel,) = dist.glob("resolute-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if not n.endswith("/")}
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        top_level = archive.read(f"{dist_info}/top_level.txt").decode().split()
    assert top_level == ["resolute"]
    assert {n.split("/")[0] for n in names} == {"resolute", dist_info}
    package = {n for n in names if n.startswith("resolute/")}
    missing = _expected_files(src) - package
    assert not missing, f"missing from the wheel: {sorted(missing)}"
    stray = {n for n in package if n.split("/")[1] not in {"api", "schema", "migrations", "policies", "web"}}
    assert not stray, f"not part of the package: {sorted(stray)}"  # resolute/setup.py, tests/, bench/, deploy/, var/
    extra_modules = {n for n in package if n.endswith(".py")} - _expected_files(src)
    assert not extra_modules, f"modules that are not in the source tree: {sorted(extra_modules)}"

    # 2. A fresh venv with only the wheel in it; the dependencies come from this venv through a .pth.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet", str(wheel)], cwd=tmp_path)
    purelib = Path(_run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip())
    ours = sysconfig.get_paths()
    (purelib / "_resolute_test_deps.pth").write_text("".join(f"{p}\n" for p in dict.fromkeys((ours["purelib"], ours["platlib"]))))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RESOLUTE_", "VIRTUAL_ENV"))}
    env["RESOLUTE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    probe = (
        "import json, sys, resolute.api, resolute.schema.root, resolute.api.settings as s;"
        "print(json.dumps({'files': [resolute.api.__file__, resolute.schema.root.__file__, str(s.ROOT), str(s.Settings().policy_dir)],"
        " 'editable': any(m.startswith('__editable__') for m in sys.modules)}))"
    )
    seen = json.loads(_run([str(python), "-I", "-c", probe], cwd=tmp_path, env=env).stdout)
    assert not seen["editable"], "the editable install's finder was activated"
    for path in seen["files"]:
        assert Path(path).resolve().is_relative_to(purelib.resolve()), f"{path} is not inside the new venv"

    # 3. The installed command migrates a new SQLite database to the head revision.
    bin_dir = env_dir / "bin"
    _run([str(bin_dir / "resolute"), "migrate"], cwd=tmp_path, env=env)
    head = ScriptDirectory(str(src / "migrations")).get_current_head()
    with closing(sqlite3.connect(tmp_path / "w.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'units'").fetchall() == [("units",)]
    assert not (tmp_path / "var").exists(), "nothing should be written under ./var when RESOLUTE_DATABASE_URL is set"

    # 4. It exports the SDL the checkout serves.
    out = tmp_path / "out" / "schema.graphql"
    out.parent.mkdir()
    _run([str(bin_dir / "resolute"), "export-schema", "--output", str(out)], cwd=tmp_path, env=env)
    assert out.read_text(encoding="utf-8") == export_sdl()
