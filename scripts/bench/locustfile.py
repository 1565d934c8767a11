"""A district's morning peak on civgrid, for Locust (run by ``bench_serving.py``).

Who uses civgrid at once, each with the pauses a person takes between two pages:

* the command centre: the overview (mostly unfiltered, sometimes by measure or a
  filter), the heatmap, issue lists (filtered, paged), issue pages, and workflow steps:
  filing the cases the grid workers report, replying on others;
* leaders: the day's bulletin and the metrics page, now and then the overview;
* grid workers on phones: their queue, a case page, the report form, and a report with
  a photo from the phone's camera;
* API clients (other systems) with a token: issue lists, one issue, grid figures.

* citizens without an account: the report page, a report with a photo, their report's
  status page by its tracking code.

Accounts, their grids, points inside them and case numbers come from the JSON file in
``CIVGRID_BENCH_FIXTURES`` (written by ``bench_serving.py``). Every request's name says
its kind: ``page …`` (an HTML page), ``write …`` (a step or a report), ``api …``.
"""

import collections
import io
import json
import os
import random
import re
from http.client import RemoteDisconnected

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

FIXTURES = json.loads(open(os.environ["CIVGRID_BENCH_FIXTURES"], encoding="utf-8").read())
_CASE = re.compile(r"/issues/(\d+)")
_CODE = re.compile(r"/citizen/status/([0-9A-Z-]{14})")
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Cases the grid workers reported in this run, for the command centre to file.
REPORTED = list(FIXTURES.get("reported", []))


def _photo():
    """A phone-sized JPEG (1024 × 768, noise so it does not shrink to nothing)."""
    from PIL import Image

    image = Image.effect_noise((1024, 768), 48).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


PHOTO = _photo()

#: Requests sent again as a browser would (``_Resend``), by why the first try failed;
#: written at the end to the file named by ``CIVGRID_BENCH_RESENT`` for the report.
RESENT = collections.Counter()


class _Resend(Retry):
    """A browser's one resend of a request that died on a kept-alive connection.

    waitress closes a connection that has been idle for ``CIVGRID_CHANNEL_TIMEOUT_S``;
    a user who thinks about as long sends the next request on it just as it closes and
    gets no answer at all (``RemoteDisconnected``; a reset). Browsers send such a request
    once more on a new connection, whatever its method, since the server cannot have
    answered it (Chromium: ``HttpNetworkTransaction::ShouldResendRequest``); requests
    does not, so Locust counted a failure the person would never see. Nothing else is
    resent: not a refused connection, not a request that got any answer, not twice.
    """

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        cause = error.args[1] if isinstance(error, ProtocolError) and len(error.args) > 1 else None
        if response is None and isinstance(cause, (RemoteDisconnected, ConnectionResetError,
                                                   BrokenPipeError)):
            if self.total:  # else this raises: the resend failed as well
                RESENT[type(cause).__name__] += 1
            return super().increment(method, url, response, error, _pool, _stacktrace)
        # What requests does by default (no retry at all).
        return Retry(0, read=False).increment(method, url, response, error, _pool,
                                              _stacktrace)


def _browser_like(user):
    """Mount the resend on the user's HTTP session (one per simulated person)."""
    adapter = HTTPAdapter(max_retries=_Resend(total=1, connect=0, read=1, redirect=0,
                                              status=0, other=0, allowed_methods=None,
                                              raise_on_status=False))
    user.client.mount("http://", adapter)


@events.quitting.add_listener
def _write_resent(environment, **_kw):
    path = os.environ.get("CIVGRID_BENCH_RESENT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(dict(RESENT), fh)
STATUSES = ["reported", "filed", "dispatched", "processing", "closed"]
MEASURES = ["density", "overdue", "total"]


class _Person(HttpUser):
    """A logged-in user of the web pages."""

    abstract = True
    role = None

    def on_start(self):
        """Take up the account's session, logged in once by the runner (a person at the
        peak has been logged in since the morning)."""
        _browser_like(self)
        self.login = self.pick_login()
        session = FIXTURES["sessions"][self.login]
        self.client.cookies.update(session["cookies"])
        self.csrf = session["csrf"]

    def pick_login(self):
        return random.choice(FIXTURES[self.role])

    def page(self, url, name):
        return self.client.get(url, name=f"page {name}")

    def write(self, url, name, data, accept, files=None):
        """POST a form (with the session's CSRF token) without following the redirect;
        ``accept(response)`` says whether it went as a person would expect."""
        with self.client.post(url, name=f"write {name}", allow_redirects=False,
                              data={**data, "csrf_token": self.csrf}, files=files,
                              catch_response=True) as resp:
            if accept(resp):
                resp.success()
            else:
                resp.failure(f"{name}: {resp.status_code}")

    def case(self):
        return random.randint(1, FIXTURES["issue_max"])


class CommandCentre(_Person):
    weight = 4
    role = "command"
    wait_time = between(3, 10)

    @task(4)
    def overview(self):
        self.page("/", "/")

    @task(1)
    def overview_by(self):
        self.page(f"/?measure={random.choice(MEASURES)}", "/?measure")

    @task(2)
    def heatmap(self):
        self.page("/heatmap", "/heatmap")

    @task(3)
    def issue_list(self):
        url = random.choice([f"/issues?status={random.choice(STATUSES)}",
                             f"/issues?page={random.randint(1, 50)}",
                             "/issues?overdue=1", "/issues"])
        self.page(url, "/issues")

    @task(5)
    def issue_page(self):
        self.page(f"/issues/{self.case()}", "/issues/[id]")

    @task(2)
    def file_a_report(self):
        """File a case a grid worker reported (or one of the day's newest)."""
        if not REPORTED:
            return self.reply()
        self._act(REPORTED.pop(), {"action": "file"}, "file")

    @task(1)
    def reply(self):
        self._act(self.case(), {"action": "reply", "note": "已转交责任部门,请跟进。"}, "reply")

    def _act(self, case, form, name):
        # 400: refused (another user's step came first: the case moved on).
        self.write(f"/issues/{case}/act", name, form,
                   lambda resp: resp.status_code in (302, 303, 400))


class Leader(_Person):
    weight = 1
    role = "leader"
    wait_time = between(8, 20)

    @task(3)
    def bulletin(self):
        self.page("/bulletin", "/bulletin")

    @task(3)
    def metrics(self):
        self.page(random.choice(["/metrics", "/metrics?group=grid", "/metrics?group=department"]),
                  "/metrics")

    @task(1)
    def overview(self):
        self.page("/", "/")


class GridWorker(_Person):
    """On a phone, in the field: slower between pages."""

    weight = 24
    role = "worker"
    wait_time = between(6, 20)

    def pick_login(self):
        self.me = random.choice(FIXTURES["workers"])
        return self.me["login"]

    @task(4)
    def queue(self):
        resp = self.page("/queue", "/queue")
        found = _CASE.findall(resp.text or "")
        if found:
            self.page(f"/issues/{random.choice(found)}", "/issues/[id]")

    @task(3)
    def own_case(self):
        if self.me["issues"]:
            self.page(f"/issues/{random.choice(self.me['issues'])}", "/issues/[id]")

    @task(2)
    def report(self):
        self.page("/report/new", "/report/new")
        lon, lat = self.me["point"]

        def made(resp):
            match = _CASE.search(resp.headers.get("Location", ""))
            if resp.status_code in (302, 303) and match:
                REPORTED.append(int(match.group(1)))  # for the command centre to file
                return True
            return False

        self.write("/report/new", "report (photo)",
                   {"category": random.choice(FIXTURES["categories"]),
                    "description": "井盖破损,存在安全隐患", "address": "巡查点",
                    "source": "patrol", "lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "crs": ""},
                   made, files={"photo": ("photo.jpg", PHOTO, "image/jpeg")})


class ApiClient(HttpUser):
    """Another system reading civgrid's API with a token."""

    weight = 2
    wait_time = between(1, 5)

    def on_start(self):
        _browser_like(self)
        self.client.headers["Authorization"] = f"Bearer {FIXTURES['token']}"

    @task(3)
    def issues(self):
        self.client.get(f"/api/v1/issues?status={random.choice(STATUSES)}&limit=100",
                        name="api /api/v1/issues")

    @task(3)
    def issue(self):
        self.client.get(f"/api/v1/issues/{random.randint(1, FIXTURES['issue_max'])}",
                        name="api /api/v1/issues/[id]")

    @task(1)
    def grid_stats(self):
        self.client.get("/api/v1/stats/grids", name="api /api/v1/stats/grids")


class Citizen(HttpUser):
    """Citizens without an account: the report page, a report with a photo (at one of the
    district's places), then now and then the status page of their report by its
    tracking code."""

    weight = 2
    wait_time = between(10, 30)

    def on_start(self):
        _browser_like(self)
        self.codes = []

    def _token(self):
        resp = self.client.get("/citizen/", name="page /citizen/")
        found = _TOKEN.search(resp.text or "")
        return found.group(1) if found else ""

    @task(2)
    def report(self):
        token = self._token()
        lon, lat = random.choice(FIXTURES["places"])
        with self.client.post(
                "/citizen/", name="write citizen report (photo)", allow_redirects=False,
                data={"csrf_token": token, "category": random.choice(FIXTURES["public_categories"]),
                      "description": "小区门口垃圾堆放,无人清理", "lon": f"{lon:.6f}",
                      "lat": f"{lat:.6f}", "crs": "wgs84"},
                files={"photo": ("photo.jpg", PHOTO, "image/jpeg")},
                catch_response=True) as resp:
            code = _CODE.search(resp.headers.get("Location", ""))
            if resp.status_code in (302, 303) and code:
                self.codes.append(code.group(1))
                resp.success()
            else:
                resp.failure(f"citizen report: {resp.status_code}")

    @task(1)
    def status(self):
        if self.codes:
            self.client.get(f"/citizen/status/{random.choice(self.codes)}",
                            name="page /citizen/status/[code]")
