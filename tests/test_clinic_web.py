"""The clinic dashboard in a real headless Chromium (Debian's, driven by Selenium through
Debian's chromedriver): sign in, see the stations with their flags, open one, see its
plot, sign out; refused without a sign-in. One browser for the module."""

from __future__ import annotations

import http.client
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_clinic_review import STATION, clinic_db  # noqa: F401 (a fixture)

from mqtt_bridge import clinic_web
from station import cli

USER, PASSWORD = "therapist1", "correct horse battery"
#: Upper bound for a page to load after a click (a bound, not a measured time).
LOAD_S = 15.0


class Site:
    def __init__(self, db: Path) -> None:
        self.server = clinic_web.make_server(clinic_web.create_app(db), "localhost", 0)
        self.port = self.server.server_port
        self.url = f"http://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def raw(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        """One request without a browser (no cookie, no token): status, headers, body."""
        conn = http.client.HTTPConnection("localhost", self.port, timeout=10)
        try:
            data = urllib.parse.urlencode(body) if body is not None else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if data else {}
            conn.request(method, path, data, headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


def chromium() -> webdriver.Chrome:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(
            "Chromium and its driver are missing: apt-get install chromium chromium-driver "
            "(make test does it as root)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def site(clinic_db: Path) -> Iterator[Site]:  # noqa: F811
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLINIC_TEST_PASSWORD", PASSWORD)
        assert (
            cli.main(
                [
                    "clinic",
                    "user",
                    "add",
                    "--db",
                    str(clinic_db),
                    "--username",
                    USER,
                    "--password-env",
                    "CLINIC_TEST_PASSWORD",
                ]
            )
            == 0
        )
    s = Site(clinic_db)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    b = chromium()
    try:
        yield b
    finally:
        b.quit()


def sign_in(browser: webdriver.Chrome, site: Site, password: str = PASSWORD) -> None:
    browser.get(site.url + "/login")
    browser.find_element(By.ID, "username").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(password)
    click_and_load(browser, browser.find_element(By.ID, "sign-in"))


def click_and_load(browser: webdriver.Chrome, element: Any) -> None:
    """Click, then wait until the page the click loads has replaced this one."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    # While the new page replaces the old one, Chromium may answer a question about the
    # old <html> with "Node ... does not belong to the document" (a WebDriverException,
    # not yet a stale element): asked again, it is stale.
    WebDriverWait(browser, LOAD_S, ignored_exceptions=(WebDriverException,)).until(
        ec.staleness_of(old)
    )


def test_clinic_web_sign_in_list_station_plot_sign_out(
    site: Site, browser: webdriver.Chrome
) -> None:
    sign_in(browser, site)
    assert browser.current_url == site.url + "/"
    (row,) = browser.find_elements(By.CSS_SELECTOR, "#stations tr")[1:]
    flags = [e.text for e in row.find_elements(By.CLASS_NAME, "flag")]
    assert flags[0] == "pain or check-in stop rule in session #3"
    assert "the last self-test failed" in flags
    click_and_load(browser, row.find_element(By.LINK_TEXT, STATION))
    assert browser.current_url == f"{site.url}/station/{STATION}"
    report = browser.find_element(By.ID, "report").text
    assert "pain before 2, 5 when a rule fired, after 5" in report
    img = browser.find_element(By.ID, "page")
    loaded = "return arguments[0].complete && arguments[0].naturalWidth > 0"
    WebDriverWait(browser, LOAD_S).until(lambda b: b.execute_script(loaded, img))
    size = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img
    )
    assert size == [827, 1169]  # the station's page, drawn for this browser
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "header button"))
    assert browser.current_url == site.url + "/login"
    browser.get(f"{site.url}/station/{STATION}")
    assert browser.current_url == site.url + "/login"  # signed out: refused again


def test_clinic_web_wrong_password_is_refused(site: Site, browser: webdriver.Chrome) -> None:
    sign_in(browser, site, password="wrong horse battery")
    assert browser.current_url == site.url + "/login"
    assert browser.find_element(By.ID, "error").text == "Wrong username or password."


def test_clinic_web_nothing_is_served_without_a_sign_in(site: Site) -> None:
    for path in (
        "/",
        f"/station/{STATION}",
        f"/station/{STATION}/page.png",
        f"/station/{STATION}/page.pdf",
        "/station/nowhere",
    ):
        status, headers, body = site.raw("GET", path)
        assert (status, headers["Location"]) == (302, "/login"), path
        assert STATION.encode() not in body
    # A sign-in without the form's CSRF token is refused before the password is looked at.
    status, _, _ = site.raw("POST", "/login", {"username": USER, "password": PASSWORD})
    assert status == 400


def test_clinic_web_session_cookie_is_secure_httponly_strict(site: Site) -> None:
    status, headers, _ = site.raw("GET", "/login")
    cookie = headers["Set-Cookie"]
    assert status == 200
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert attribute in cookie, cookie


def test_clinic_web_binds_to_localhost_and_refuses_clear_text_elsewhere(
    clinic_db: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli.build_parser().parse_args(["clinic", "serve", "--db", str(clinic_db)])
    assert (args.host, args.port) == ("127.0.0.1", 8080)
    assert cli.main(["clinic", "serve", "--db", str(clinic_db), "--host", "0.0.0.0"]) == 2
    assert "would send passwords in clear" in capsys.readouterr().err
