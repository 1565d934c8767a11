"""The load test's users resend as a browser does, and only then (scripts/bench/locustfile.py).

Locust patches the interpreter (gevent) when imported, so the client runs in a subprocess
against a hand-written server that plays each case on a raw socket.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CLIENT = r"""
import json, os, socket, sys, threading
sys.path.insert(0, os.path.join(sys.argv[1], "scripts", "bench"))
import locustfile  # Locust first: it patches what requests uses
import requests

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
port = listener.getsockname()[1]
seen = []

def serve():
    conn, _ = listener.accept()
    seen.append(conn.recv(65536).split(b" ")[1])
    conn.sendall(OK)                            # /first, kept alive
    seen.append(conn.recv(65536).split(b" ")[1])
    conn.close()                                # /report arrives as the idle connection closes
    conn, _ = listener.accept()
    seen.append(conn.recv(65536).split(b" ")[1])
    conn.sendall(OK)                            # the resent /report, on a new connection
    seen.append(conn.recv(65536).split(b" ")[1])
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npar")
    conn.close()                                # /partial: an answer began, then died

threading.Thread(target=serve, daemon=True).start()

class User:
    client = requests.Session()

locustfile._browser_like(User)
base = f"http://127.0.0.1:{port}"
out = {"first": User.client.get(base + "/first").text,
       "report": User.client.post(base + "/report", data={"x": "1"}).text,
       "resent_after_report": dict(locustfile.RESENT)}
try:
    User.client.get(base + "/partial").text
    out["partial"] = "answered"
except requests.RequestException as exc:
    out["partial"] = type(exc).__name__
listener.close()
try:
    User.client.get(base + "/refused")
    out["refused"] = "answered"
except requests.ConnectionError as exc:
    out["refused"] = type(exc).__name__
out["seen"] = [p.decode() for p in seen]
out["resent"] = dict(locustfile.RESENT)
print(json.dumps(out))
"""


def test_a_request_lost_to_an_idle_close_is_sent_once_more_and_nothing_else(tmp_path):
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text("{}", encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", CLIENT, str(REPO)], capture_output=True,
                         text=True, timeout=60,
                         env={"CIVGRID_BENCH_FIXTURES": str(fixtures), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["first"] == "ok"
    # The POST that died unanswered on the closed kept-alive connection went again, once.
    assert out["report"] == "ok"
    assert out["resent_after_report"] == {"RemoteDisconnected": 1}
    assert out["seen"] == ["/first", "/report", "/report", "/partial"]
    # An answer that began is not resent (the page would show the error), nor is a
    # connection the server refuses.
    assert out["partial"] == "ChunkedEncodingError"
    assert out["refused"] == "ConnectionError"
    assert out["resent"] == {"RemoteDisconnected": 1}
