"""Drive Debian's Chromium (no browser download) with Playwright, and serve the app for it."""

import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/|^(data|blob|about):")


def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs it)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(page, expression, timeout=5_000):
    """Wait until the JS ``expression`` (or ``() => …`` function) is true in ``page``.

    Playwright's ``wait_for_function`` polls by evaluating its predicate with ``eval``
    inside the page, which civgrid's Content-Security-Policy refuses (no 'unsafe-eval';
    microsoft/playwright#7395); a single ``page.evaluate`` is allowed, so poll from here.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} ms: {expression}")
        page.wait_for_timeout(50)


class LiveServer:
    """The Flask app under waitress in a background thread, on 127.0.0.1."""

    def __init__(self, app):
        import waitress

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = waitress.create_server(app, host="127.0.0.1", port=self.port, threads=4)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.close()


class Page:
    """A page that records console errors and any request leaving 127.0.0.1."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800},
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.errors = []
        self.outside = []
        self.bytes = 0
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if LOCAL.match(url):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, url, screenshot=None):
        self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(300)
        if screenshot:
            ARTIFACTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(ARTIFACTS / screenshot), full_page=False)
        return self.page

    def login(self, base_url, login=None, password=None):
        """Log in through the login page as a user would (default: the demo admin)."""
        from geo.people.demo import DEMO_PASSWORD

        self.page.goto(base_url + "/login", wait_until="load")
        self.page.fill("#login", login or "admin")
        self.page.fill("#password", password or DEMO_PASSWORD)
        with self.page.expect_navigation():
            self.page.click("form.cg-login button[type=submit]")
        assert "/login" not in self.page.url, self.page.content()[:500]
        return self

    def close(self):
        self.context.close()


def open_menu_link(p, href):
    """Follow the navbar link to `href` as a user does: unfold the menu on a phone, open the
    link's group when it sits in a dropdown, then click it."""
    toggler = p.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
        p.wait_for_selector("#cg-nav.show")
    link = p.locator(f"#cg-nav a[href='{href}']")
    group = p.locator("#cg-nav li.dropdown", has=p.locator(f"a[href='{href}']"))
    if group.count():
        group.locator(".dropdown-toggle").click()
        link.wait_for(state="visible")
    with p.expect_navigation():
        link.click()
