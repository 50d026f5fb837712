"""The README's screenshots of the web page, at a desk's width and a phone's: `make screenshots`.

Serves the demo as tests/test_web.py does (Debian's Chromium, installed when missing) and writes PNG files to
docs/screenshots/ (or the folder given).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.test_web import Page, _chromium, serving_demo


def _shoot(page: Page, path: str, name: str, out: Path, wait_for: str) -> None:
    page.go(path)
    page.css(wait_for)
    time.sleep(1.0)  # the series chart and the fonts settle
    page.driver.save_screenshot(str(out / f"{name}.png"))
    print(out / f"{name}.png")


def main(out: Path) -> None:
    _chromium()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, serving_demo(Path(folder)) as demo:
        for phone in (False, True):
            suffix = "-phone" if phone else ""
            page = Page(demo.http, Path(folder), phone=phone)
            try:
                page.login("p01.leader")
                _shoot(page, "/#/unit/P01", f"board{suffix}", out, "section.warnings")
                _shoot(page, "/#/ranking", f"ranking{suffix}", out, "svg.chart")
                if not phone:
                    _shoot(page, "/graphql", "graphiql", out, ".graphiql-container")
            finally:
                page.quit()
            page = Page(demo.http, Path(folder), phone=phone)
            try:
                page.login("p01.c001.officer")
                page.go("/#/work")
                first = page.css("ul.work li a").get_attribute("href").split("#", 1)[1]
                _shoot(page, f"/#{first}", f"assignment{suffix}", out, "#form-report")
            finally:
                page.quit()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
