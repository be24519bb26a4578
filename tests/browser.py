"""A headless Chromium driven over the Chrome DevTools Protocol, for the rendered-book test.

No package to install: Chromium is started with ``--remote-debugging-pipe`` and spoken to over
two pipes (file descriptors 3 and 4, messages of JSON ended by a NUL byte), the transport
Puppeteer and Playwright use. :class:`Chromium` opens pages, collects console errors, uncaught
exceptions and failed loads, evaluates JavaScript and takes full-page screenshots; :func:`serve`
serves a folder on 127.0.0.1 and records the requests it could not answer.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The Chromium executable: ``$EOS_CHROMIUM``, Debian's ``/usr/bin/chromium``, or one on PATH."""
    for candidate in (os.environ.get("EOS_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


class BrowserError(RuntimeError):
    """Chromium died, timed out, or answered a command with an error."""


@dataclass
class PageReport:
    """What a page did while it loaded and settled."""

    url: str
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and failed loads, one line each."""


class Chromium:
    """One headless Chromium with a fresh profile; use as a context manager."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900, timeout: float = 60):
        self.timeout, self.width, self.height = timeout, width, height
        self._profile = tempfile.mkdtemp(prefix="eos-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire():  # in the child: its fd 3 reads our commands, its fd 4 writes its answers
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire,
            close_fds=False,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self.session = None
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.command("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.command(f"{domain}.enable")
        self.command(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    # -- the protocol ------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_child, data) :]

    def _receive(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"Chromium did not answer within {self.timeout} s")
            ready, _, _ = select.select([self._from_child], [], [], min(left, 1.0))
            if not ready:
                if self.process.poll() is not None:
                    raise BrowserError(f"Chromium exited with code {self.process.returncode}: {self._stderr_tail()}")
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed its pipe: {self._stderr_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def command(self, method: str, _timeout: float | None = None, **params):
        """Send one command (to the page's session once attached) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + (_timeout or self.timeout)
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _wait_event(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(i)
            self._events.append(self._receive(deadline))

    def evaluate(self, expression: str, timeout: float | None = None):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.command(
            "Runtime.evaluate",
            _timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            timeout=int(1000 * (timeout or self.timeout)),
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}…: {_describe_exception(result['exceptionDetails'])}")
        return result["result"].get("value")

    # -- pages -------------------------------------------------------------------------------
    def open(self, url: str, settle: float = 0.5) -> PageReport:
        """Load ``url``, wait for its load event and ``settle`` seconds more; report its errors."""
        self._events.clear()
        reply = self.command("Page.navigate", url=url)
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {url}: {reply['errorText']}")
        self._wait_event("Page.loadEventFired", self.timeout)
        time.sleep(settle)
        self.command("Runtime.evaluate", expression="1")  # drain events that arrived meanwhile
        return PageReport(url, self._errors())

    def errors_since_open(self) -> list[str]:
        """Errors that arrived after :meth:`open` returned (e.g. while MathJax typeset)."""
        self.command("Runtime.evaluate", expression="1")
        return self._errors()

    def _errors(self) -> list[str]:
        errors, failed = [], {}
        for event in self._events:
            method, p = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                errors.append(f"console.{p['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                errors.append(f"uncaught: {_describe_exception(p['exceptionDetails'])}")
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                entry = p["entry"]
                errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.requestWillBeSent":
                failed[p["requestId"]] = p["request"]["url"]
            elif method == "Network.loadingFailed" and not p.get("canceled"):
                errors.append(f"failed to load {failed.get(p['requestId'], '?')}: {p.get('errorText')}")
        self._events = [e for e in self._events if e["method"] == "Network.requestWillBeSent"]
        return list(dict.fromkeys(errors))

    def screenshot(self, path: Path, max_height: int = 20000) -> Path:
        """A PNG of the whole page (up to ``max_height`` pixels) at ``path``."""
        metrics = self.command("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = int(min(max(size["height"], self.height), max_height))
        shot = self.command(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1},
        )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    # -- life --------------------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.session = None
            self._send({"id": 0, "method": "Browser.close"})
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _describe_exception(details: dict) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text", "")
    where = details.get("url", "")
    return f"{text} ({where}:{details.get('lineNumber', '?')})" if where else text


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    missing: list[str]

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):  # noqa: N802 - the base class's name
        if self.path == "/favicon.ico" and not Path(self.directory, "favicon.ico").is_file():
            self.send_response(204)  # browsers ask for it unprompted; the book has none
            self.end_headers()
            return
        super().do_GET()

    def send_error(self, code, message=None, explain=None):
        if code == 404:
            self.missing.append(self.path)
        super().send_error(code, message, explain)


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields ``(base_url, missing)``
    where ``missing`` collects the paths that got a 404."""
    missing: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"missing": missing})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", missing
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
