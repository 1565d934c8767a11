"""The login page in Chromium, as a person uses it: on a desktop and on a 390 px phone."""

import pytest

from geo.people.demo import DEMO_PASSWORD
from tests import browser as br

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_log_in_through_the_page_then_out(chromium, live, width):
    page = br.Page(chromium)
    try:
        page.page.set_viewport_size({"width": width, "height": 800})
        p = page.open(live.url + "/issues?status=open")  # anonymous: sent to the login page
        assert "/login?next=" in p.url and p.locator("h1").inner_text() == "登录"
        assert p.evaluate("document.documentElement.scrollWidth") <= width
        p.fill("#login", "viewer")
        p.fill("#password", "not the password")
        with p.expect_navigation():
            p.click("form.cg-login button[type=submit]")
        assert p.locator("#login-problem").inner_text() == "登录名或密码错误"
        assert p.evaluate("document.documentElement.scrollWidth") <= width
        assert page.errors == ["Failed to load resource: the server responded with a status"
                               " of 400 (BAD REQUEST)"]  # the refused form itself
        page.errors.clear()
        p.fill("#password", DEMO_PASSWORD)
        with p.expect_navigation():
            p.click("form.cg-login button[type=submit]")
        p.screenshot(path=str(br.ARTIFACTS / f"page-login-done-{width}.png"))
        assert p.url == live.url + "/issues?status=open"  # back where it was going
        assert p.locator("table.cg-issues").count() == 1
        # A viewer's navbar offers no planning; the planner page refuses it.
        assert p.locator("nav a[href='/planner/']").count() == 0
        if width > 700:
            assert p.locator(".cg-user").inner_text() == "访客"
        if p.locator(".navbar-toggler").is_visible():  # on a phone the menu folds
            p.click(".navbar-toggler")
            p.locator(".cg-logout").wait_for(state="visible")
        with p.expect_navigation():
            p.click(".cg-logout")
        assert p.locator("#login-notice").inner_text() == "您已退出登录。"
        assert "/login" in page.open(live.url + "/issues").url
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
