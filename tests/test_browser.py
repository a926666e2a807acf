"""The demo report in a real headless browser (Chromium, driven by the DevTools protocol).

Chromium is started with ``--remote-debugging-pipe``: the DevTools protocol runs over two
pipes (file descriptors 3 and 4, messages separated by NUL bytes), so the test needs no
port, no WebDriver and no extra Python package. It opens ``demo.html`` (made here with
``nhisim demo --replications 2``) from disk and checks what a person would see: no
console error and no failed load, every image decoded (``naturalWidth > 0``), the key
findings present, and nothing fetched from the network.

Chromium is the Debian package ``chromium``. Without it the test is skipped with the
reason shown, unless the environment variable ``CI`` is set: then it fails.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import report_fixtures as R

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe")
TIMEOUT = 90.0


def find_chromium() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class DevTools:
    """A headless Chromium and a DevTools-protocol session over its pipes."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # a tiny launcher puts our pipe ends on the descriptors Chromium reads (3) and writes (4), then execs it
        launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                    "os.execv(sys.argv[3], sys.argv[3:])")
        self.proc = subprocess.Popen([sys.executable, "-c", launcher, str(to_browser_r), str(from_browser_w), binary,
                                      *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                stderr = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self.proc.poll()}): {stderr[-2000:]}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = TIMEOUT) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=10)
        except Exception:  # already gone: make sure below
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed, and CI is set: install the Debian package `chromium`")
        pytest.skip("Chromium is not installed (apt-get install chromium); this test fails instead when CI is set")
    return binary


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    """``nhisim demo --replications 2`` (the enterprise estate; a small estate if it is not there yet)."""
    from cli_helpers import run_cli

    folder = tmp_path_factory.mktemp("demo")
    args = ["demo", "--replications", "2", "--out", str(folder), "--workers", "2"]
    if not (R.ROOT / "scenarios" / "enterprise.yaml").is_file():
        args += ["--scenario", str(R.write_estate(folder))]

    class _Capsys:  # run_cli wants capsys; a module fixture cannot have it, so capture by hand
        def readouterr(self):
            return "", ""

    code, _, _ = run_cli(args, _Capsys())
    assert code == 0
    report = folder / "demo.html"
    assert report.is_file()
    return report


def test_demo_report_renders_in_chromium(chromium, demo_report, tmp_path):
    browser = DevTools(chromium, tmp_path / "profile")
    try:
        browser.open(demo_report.resolve().as_uri())
        images = browser.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt.slice(0, 60), complete: i.complete, "
            "width: i.naturalWidth, height: i.naturalHeight}))")
        findings = browser.evaluate(
            "(() => { const s = document.getElementById('findings');"
            " return s ? {items: s.querySelectorAll('li').length, text: s.innerText} : null; })()")
        tables = browser.evaluate("document.querySelectorAll('table.results tbody tr').length")
        title = browser.evaluate("document.title")
        scripts = browser.evaluate("document.scripts.length")
    finally:
        browser.close()

    errors = []
    requests = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.loadingFailed":
            errors.append(f"failed to load: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            requests.append(params.get("request", {}).get("url", ""))

    assert errors == [], errors
    assert len(images) >= 7, images  # comparison, CDF, trade-off, delegation graph, one timeline per strategy
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    assert findings is not None and findings["items"] >= 2
    assert "95% CI" in findings["text"]
    assert tables > 15  # every metric
    assert title.startswith("nhisim report")
    assert scripts == 0  # nothing to run: the page needs no JavaScript
    foreign = [u for u in requests if not u.startswith(("file:", "data:", "about:"))]
    assert foreign == [], foreign  # self-contained: nothing fetched from the network
