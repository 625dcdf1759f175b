"""A headless Chromium driven over the DevTools protocol, for tests of the graph page.

The protocol runs over a pair of pipes (`--remote-debugging-pipe`: the browser reads commands
on its fd 3 and writes replies and events on its fd 4, each a JSON message ended by a NUL), so
no port, websocket or Python package is needed. Only what the tests use is here: open a page,
evaluate script, click, type, press a key, take a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--remote-debugging-pipe"]


def find() -> str | None:
    """The Chromium program, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(Exception):
    """The browser reported an error, threw in the page, or did not answer in time."""


class Browser:
    """One headless browser with one page (a context manager)."""

    def __init__(self, exe: str, profile: Path, width: int = 1280, height: int = 800,
                 timeout: float = 60.0):
        self.timeout = timeout
        self.errors: list[str] = []        # exceptions thrown and console errors in the page
        self._next = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        args = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                "about:blank"]
        # the browser's fd 3 and 4 are the pipes' ends (bash sets them up, then execs it)
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', *args],
            pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the browser (it was started here)."""
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass

    # ---------------------------------------------------------------- the protocol

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send a command and return its result (BrowserError for an error reply)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command to the page."""
        return self.send(method, params, self.session)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError("no answer from the browser")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise BrowserError("the browser closed the pipe")
            self._buffer += chunk
        text, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(text)

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method", "")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description")
                                   or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
        self._events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        """The next event of this kind (one already received counts)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for k, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(k)
            self._event(self._receive())
        raise BrowserError(f"no {method} event in {self.timeout:g} s")

    # ---------------------------------------------------------------- what tests do

    def open(self, url: str) -> None:
        """Load a page afresh (even one that differs only in its #fragment) and wait until
        it has loaded."""
        for address in ("about:blank", url):
            self._events.clear()
            self.call("Page.navigate", {"url": address})
            self.wait_for("Page.loadEventFired")

    def run(self, script: str) -> Any:
        """The value of a script expression in the page (BrowserError if it throws)."""
        reply = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True,
                                               "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(str(reply["exceptionDetails"]))
        return reply.get("result", {}).get("value")

    def click(self, x: float, y: float) -> None:
        """A left click at a point of the window, as a mouse gives it."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left", "clickCount": 1})

    def click_on(self, selector: str) -> None:
        """A click on the middle of the first element a CSS selector finds."""
        x, y = self.run(f"(function () {{ var r = document.querySelector({json.dumps(selector)})"
                        ".getBoundingClientRect(); return [r.left + r.width / 2, "
                        "r.top + r.height / 2]; })()")
        self.click(x, y)

    def type(self, text: str) -> None:
        """Type text into the focused element."""
        self.call("Input.insertText", {"text": text})

    def press(self, key: str) -> None:
        """Press and release a key (Enter, Escape)."""
        code = {"Enter": 13, "Escape": 27}[key]
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": code,
                                                 "nativeVirtualKeyCode": code})

    def screenshot(self, path: Path) -> Path:
        """Save what the window shows as a PNG file."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path
