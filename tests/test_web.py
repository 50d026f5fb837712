"""The web page in a real browser: Debian's headless Chromium, driven by Selenium, against `resolute demo` served on
SQLite by `resolute serve`, with every host but 127.0.0.1 unresolvable (the network to the outside cut off).

Chromium and its driver come from Debian's packages (`apt-get install chromium chromium-driver`); the fixture installs
them when they are missing and it may (root, apt-get), else these tests are skipped, loudly.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.test_live import Server, _env, _free_port, _resolute, _wait_healthy

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "resolute-demo"
CUT_OFF = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"  # every other host name fails to resolve: nothing from a CDN


def _chromium() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(f"BROWSER TESTS SKIPPED: {CHROMIUM} and {DRIVER} are missing and apt-get cannot install them here")
    with open(os.path.join(tempfile.gettempdir(), "resolute-chromium.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # tests run in parallel workers (pytest-xdist): one installs, the others wait for it
        if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
            return
        run = subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], capture_output=True, text=True, timeout=900,
                             check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    if run.returncode != 0 or not os.path.exists(DRIVER):
        pytest.skip(f"BROWSER TESTS SKIPPED: apt-get could not install chromium: {run.stderr[-500:]}")


@contextmanager
def serving_demo(folder: Path) -> Iterator[Server]:
    """The demo organisation, served on SQLite by a real `resolute serve` (GraphiQL on, as a developer has it)."""
    env = _env(folder / "var" / "resolute.db", GRAPHIQL="true")
    made = subprocess.run([*_resolute(), "demo"], cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert made.returncode == 0, made.stderr[-2000:]
    port = _free_port()
    log = folder / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_resolute(), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name="demo", port=port, proc=proc, log=log)
    try:
        _wait_healthy([server])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _chromium()
    with serving_demo(tmp_path_factory.mktemp("web")) as server:
        yield server


class Page:
    """One browser (a phone's or a desk's width), its downloads in a folder of the test's."""

    def __init__(self, base: str, downloads: Path, *, phone: bool = False) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                         f"--host-resolver-rules={CUT_OFF}", "--lang=vi"):  # fmt: skip
            options.add_argument(argument)
        if phone:  # a phone's screen, 390 x 844 CSS pixels (a headless window is at least 500 wide)
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3}})
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                                                  "intl.accept_languages": "vi,en"})  # fmt: skip
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        self.base, self.downloads = base, downloads

    def wait(self, condition: Any, seconds: float = 20) -> Any:
        # a screen is redrawn whole: an element found a moment ago may be gone, so look again
        return WebDriverWait(self.driver, seconds, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)

    def css(self, selector: str, seconds: float = 20) -> Any:
        return self.wait(ec.presence_of_element_located((By.CSS_SELECTOR, selector)), seconds)

    def all(self, selector: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, username: str) -> None:
        self.go("/")
        self.css("#username").send_keys(username)
        self.css("#password").send_keys(PASSWORD)
        self.css("#login").click()
        self.css("main h1")
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "#username"))

    def board(self) -> None:
        """Wait for a unit's board: its figures and its warnings drawn."""
        self.css("section.figures")
        self.css("section.warnings")

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture
def page(demo: Server, tmp_path: Path) -> Iterator[Page]:
    opened = Page(demo.http, tmp_path)
    try:
        yield opened
    finally:
        opened.quit()


def _downloaded(folder: Path, suffix: str, seconds: float = 20) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} in {sorted(p.name for p in folder.iterdir())}")


def test_a_province_leader_sees_its_childrens_lights_drills_down_and_downloads_the_xlsx(page: Page) -> None:
    page.login("p01.leader")
    page.board()
    assert page.css("main h1").text.startswith("Thành phố Hà Nội")  # the caller's own unit, in Vietnamese (the browser's language)
    rows = page.all("table.children tbody tr")
    assert len(rows) >= 5 and all(r.get_attribute("data-unit").startswith("P01-") for r in rows)
    first = rows[0]
    lights = first.find_elements(By.CSS_SELECTOR, ".light")
    assert lights and all(light.text.strip() for light in lights), "a light always carries a word, not a colour alone"
    assert {"Tốt", "Theo dõi", "Chậm", "Chưa có"} & {light.get_attribute("title") for light in page.all(".light")}
    child = first.get_attribute("data-unit")
    first.find_element(By.CSS_SELECTOR, "th a").click()  # drill down
    page.wait(lambda d: child in d.find_element(By.CSS_SELECTOR, "main h1").text)
    page.board()
    crumbs = page.css("nav.crumbs").text
    assert "Thành phố Hà Nội" in crumbs, crumbs  # breadcrumbs back up to the caller's own unit
    page.css("nav.crumbs a[href='#/unit/P01']").click()
    page.wait(lambda d: "P01" in d.find_element(By.CSS_SELECTOR, "main h1").text and "P01-" not in d.find_element(By.CSS_SELECTOR, "main h1").text)
    page.board()
    page.css("#download-xlsx").click()
    workbook = load_workbook(_downloaded(page.downloads, ".xlsx"), read_only=True)
    assert len(workbook.sheetnames) >= 2, workbook.sheetnames
    cells = [str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert any("P01-C001" in c for c in cells) and not any(c.startswith("P02") for c in cells)


def test_a_sibling_provinces_data_never_appears(page: Page) -> None:
    page.login("p01.leader")
    page.board()
    seen = page.text()
    page.go("/#/unit/P02")  # asked for by its code: answered as a unit that does not exist, nothing of it shown
    assert "–" in page.css("main p.error").text and not page.all("section.figures")
    page.go("/#/ranking")
    page.css("main h1")
    time.sleep(0.5)
    seen += page.text()
    page.go("/#/unit/P01")
    page.board()
    seen += page.text() + page.driver.page_source
    assert "P02" not in seen and "Hải Phòng" not in seen and "Lào Cai" not in seen


def test_a_commune_officer_reports_progress_and_sees_its_warning_disappear(page: Page) -> None:
    page.login("p01.c001.officer")
    page.board()
    linked = page.all("#warnings li a[href^='#/assignment/']")
    assert linked, page.text()
    target = linked[0].get_attribute("href").split("#", 1)[1]
    before = len(page.all(f"#warnings li a[href='#{target}']"))
    linked[0].click()
    page.css("#form-report")
    progress = page.css("#f-progress")
    progress.clear()
    progress.send_keys("100")
    page.driver.find_element(By.CSS_SELECTOR, "#f-status option[value='completed']").click()
    page.css("#f-note").send_keys("Hoàn thành, đã nghiệm thu")
    page.css("#form-report button[type=submit]").click()
    page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#progress").text == "100%")
    assert page.css("#status").text == "Hoàn thành" or "100%" in page.css("#progress").text
    page.go("/#/")
    page.board()
    assert before >= 1 and page.all(f"#warnings li a[href='#{target}']") == [], "the assignment's warnings are gone once it is completed"


def test_a_typed_error_shows_next_to_its_field(page: Page) -> None:
    page.login("p01.c001.officer")
    page.go("/#/work")
    page.css("ul.work li a").click()
    page.css("#form-extension")
    page.css("#f-requestedDueOn").send_keys("01012020")  # a date in the past: refused by the API, nothing written
    page.css("#form-extension #f-reason").send_keys("Thiếu kinh phí")
    page.css("#form-extension button[type=submit]").click()
    said = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#f-requestedDueOn-error").text or None)
    assert "OUT_OF_RANGE" in said or "BAD_USER_INPUT" in said, said


def test_the_page_and_graphiql_load_nothing_from_elsewhere_and_work_cut_off(page: Page, demo: Server) -> None:
    page.login("p01.leader")
    page.board()
    resources = page.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith((demo.http, "ws://127.0.0.1")) for r in resources), resources
    page.go("/graphql")
    try:
        page.css(".graphiql-container .graphiql-editors", 30)
    except TimeoutException:
        raise AssertionError(f"GraphiQL did not render offline: {page.text()[:500]}") from None
    headers = page.driver.execute_script("return document.querySelector('.graphiql-editor-tool') ? document.body.innerText : ''")
    assert "Authorization" in headers, "the page's own token is offered in GraphiQL's headers pane"


def test_english_on_a_phones_width(demo: Server, tmp_path: Path) -> None:
    phone = Page(demo.http, tmp_path, phone=True)
    try:
        phone.login("p01.leader")
        phone.board()
        phone.driver.find_element(By.XPATH, "//button[normalize-space()='English']").click()
        phone.wait(lambda d: d.find_element(By.CSS_SELECTOR, "section.figures").text.startswith("Total"))
        assert "Sub-units" in phone.text() and "Đơn vị trực thuộc" not in phone.text()
        screen, width = phone.driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert screen == 390 and width <= 390, f"the page is {width} px wide on a {screen} px screen (wide tables scroll inside their box)"
    finally:
        phone.driver.execute_script("localStorage.clear()")
        phone.quit()


def test_a_report_submitted_elsewhere_redraws_the_leaders_board_without_reloading(page: Page, demo: Server) -> None:
    page.login("p01.leader")
    page.board()
    page.wait(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(1)  # the board's subscriptions are open
    token = httpx.post(f"{demo.http}/auth/token", json={"username": "p01.c002.officer", "password": PASSWORD}, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mine = httpx.post(f"{demo.http}/graphql", headers=headers, timeout=10, json={"query": '{ assignments(first: 1, filter: {toMyUnit: true, status: ["in_progress", "not_started"]}) { nodes { id progress } } }'})
    assignment = mine.json()["data"]["assignments"]["nodes"][0]
    report = ("mutation($a: ID!, $p: Int!) { progressReportSubmit(input: {assignmentId: $a, progress: $p, status: \"in_progress\", note: \"live\"})"
              " { errors { code } } }")  # fmt: skip
    done = httpx.post(f"{demo.http}/graphql", headers=headers, timeout=10, json={"query": report, "variables": {"a": assignment["id"], "p": min(99, assignment["progress"] + 1)}})
    assert done.json()["data"]["progressReportSubmit"]["errors"] == [], done.text
    page.wait(lambda d: d.execute_script("return document.body.dataset.updates") == "1", 15)
    assert page.css("#live").get_attribute("textContent") == "Có cập nhật mới; đã tải lại."


def _api(demo: Server, username: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    token = httpx.post(f"{demo.http}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10).json()["access_token"]
    body = httpx.post(f"{demo.http}/graphql", headers={"Authorization": f"Bearer {token}"}, json={"query": query, "variables": variables or {}}, timeout=20).json()
    assert "errors" not in body, body
    return body["data"]


def test_the_matrix_of_a_resolution_and_a_kpis_history(page: Page, demo: Server) -> None:
    page.login("p01.leader")
    page.board()
    page.css("#resolution option:nth-child(2)").click()  # the first resolution the leader reads
    page.css("#matrix-link").click()
    page.css("#matrix tbody tr")
    header = [th.text for th in page.all("#matrix thead th")][1:]
    assert header and all(code.startswith("P01") for code in header), header
    cells = page.all("#matrix tbody td .light")
    assert cells and all(c.text.strip() for c in cells)  # each cell says its status in words
    page.go("/#/unit/P01")
    page.board()
    attention = page.all("#kpi-attention tbody tr th a")
    assert attention, "the demo has KPIs in yellow or red under P01"
    name = attention[0].text
    attention[0].click()
    page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "main h1").text.startswith(name))
    page.css("svg.chart")
    assert page.all("#kpi-children tbody tr")


def test_the_assigner_approves_an_extension_the_assignee_asked_for(page: Page, demo: Server) -> None:
    mine = _api(demo, "p01.c003.officer", '{ assignments(first: 5, orderBy: DUE_ON, filter: {toMyUnit: true, status: ["in_progress", "not_started"]}) { nodes { id dueOn extensions { status } } } }')
    target = next(a for a in mine["assignments"]["nodes"] if not any(e["status"] == "pending" for e in a["extensions"]))
    asked = _api(demo, "p01.c003.officer", "mutation($a: ID!) { extensionRequest(input: {assignmentId: $a, requestedDueOn: \"2031-12-31\", reason: \"Chờ kinh phí\"}) { extension { id } errors { code } } }",
                 {"a": target["id"]})  # fmt: skip
    assert asked["extensionRequest"]["errors"] == [], asked
    extension = asked["extensionRequest"]["extension"]["id"]
    page.login("p01.manager")
    page.go(f"/#/assignment/{target['id']}")
    page.css(f"#form-approve-{extension.replace('=', '')} button, form[id='form-approve-{extension}'] button").click()
    page.wait(lambda d: "2031-12-31" in d.find_element(By.CSS_SELECTOR, "dl.facts").text)
    assert "Đã duyệt" in page.text()


def test_the_demo_has_published_results_and_a_correction(demo: Server) -> None:
    central = _api(demo, "admin", '{ resolution(code: "57-NQ/TW") { id } }')["resolution"]["id"]
    query = "query($r: ID!) { publishedResults(resolution: $r) { nodes { version reason verified contentHash content } } }"
    nodes = _api(demo, "tw.viewer", query, {"r": central})["publishedResults"]["nodes"]
    assert _api(demo, "p01.leader", query, {"r": central})["publishedResults"]["nodes"] == []  # the provinces' figures are not a province's to read
    assert [(n["version"], n["verified"], bool(n["reason"])) for n in nodes] == [(2, True, True), (1, True, False)]
    assert all(hashlib.sha256(n["content"].encode()).hexdigest() == n["contentHash"] for n in nodes)


def test_an_officer_reads_its_reminders_and_marks_one_read(page: Page) -> None:
    page.login("p01.c002.officer")
    page.css("#notifications-link").click()
    page.css("#notifications li")
    before = page.css("#unread-count").text
    unread = page.all("#notifications li.unread")
    assert unread and "chưa đọc" in before, page.text()[:500]  # the demo's worker round reminded this commune
    unread[0].find_element(By.CSS_SELECTOR, "button.mark-read").click()
    page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#unread-count").text != before)
    assert int(page.css("#unread-count").text.split()[0]) == int(before.split()[0]) - 1
    assert page.all("#notifications li.read")
