"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``: no websocket library, no driver.

Chromium reads commands from fd 3 and writes answers and events to fd 4, each a JSON message ended by a
NUL byte (the transport Puppeteer uses). Debian's ``chromium`` package is all the UI tests need.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page; every call is synchronous."""

    def __init__(self, profile: Path, log: Path, width: int = 1000, height: int = 900) -> None:
        if CHROMIUM is None:
            raise CDPError("chromium is not installed")
        cmd_read, self._cmd_write = os.pipe()
        self._res_read, res_write = os.pipe()
        # One process (no renderer, GPU or network service processes and no IPC between them) and none of the
        # browser's own background services: the UI tests cost 20 % less CPU (113 -> 90 CPU-s in a row).
        flags = ["--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}", "--single-process", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--mute-audio",
                 "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,PaintHolding",
                 "--disable-ipc-flooding-protection"]
        # bash (dash takes one-digit fds only) puts our pipe ends on fds 3 and 4, where Chromium expects them.
        script = f'exec "$0" "$@" 3<&{cmd_read} 4>&{res_write}'
        self._log = log.open("wb")
        self.proc = subprocess.Popen(["bash", "-c", script, CHROMIUM, *flags, "about:blank"],
                                     pass_fds=(cmd_read, res_write), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        os.close(cmd_read)
        os.close(res_write)
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.width, self.height = width, height
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self._attach(target["targetId"])

    def _attach(self, target_id: str) -> None:
        self.target = target_id
        self.session = self.send("Target.attachToTarget", targetId=target_id, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable"):
            self.page(domain)
        self.page("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                  mobile=False)

    def new_page(self) -> None:
        """The tab, blank, for the next test: nothing of the last test's page (its scripts, its errors, its
        storage: see ``leave``) is left, while the browser's cache of Stash's app is kept (a test's first load
        of the app then costs about 1.1 CPU-s instead of 4.5 with a new browser, or 1.5 in a new tab)."""
        self.page("Page.navigate", url="about:blank")
        with self._cond:
            self.events.clear()

    def leave(self) -> None:
        """Ends the test's page: its storage cleared and nothing of it running any more (no late request
        reaches the next test's server)."""
        with contextlib.suppress(CDPError):
            self.page("Runtime.evaluate", expression="localStorage.clear(); sessionStorage.clear()")
            self.page("Page.navigate", url="about:blank")

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._res_read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                with self._cond:
                    for raw in messages:
                        message = json.loads(raw)
                        if "id" in message:
                            self._answers[message["id"]] = message
                        else:
                            self.events.append(message)
                    self._cond.notify_all()

    def send(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            call_id = self._next_id
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: call_id in self._answers, timeout=timeout):
                raise CDPError(f"no answer to {method} within {timeout} s")
            answer = self._answers.pop(call_id)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.send(method, session=self.session, **params)

    # ------------------------------------------------------------ what a test does with the page

    def goto(self, url: str) -> None:
        self.page("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def eval(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Polls until the expression is truthy; the timeout only bounds a failing test."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"still false after {timeout} s: {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre, as a user's (it fails if something covers it)."""
        box = self.eval(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            return {{x, y, hit: el.contains(document.elementFromPoint(x, y))}};
        }})()""")
        if not box:
            raise CDPError(f"nothing matches {selector}")
        if not box["hit"]:
            raise CDPError(f"{selector} is covered by another element")
        for kind in ("mousePressed", "mouseReleased"):
            self.page("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.page("Input.insertText", text=text)

    def key(self, key: str) -> None:
        """One key pressed and released on the focused element, as a keyboard does (``Enter``, ``ArrowDown``,
        ``y``)."""
        codes = {"Enter": 13, "ArrowUp": 38, "ArrowDown": 40}
        code = codes.get(key, ord(key.upper()) if len(key) == 1 else 0)
        text = {"Enter": "\r"}.get(key, key if len(key) == 1 else "")
        self.page("Input.dispatchKeyEvent", type="keyDown", key=key, windowsVirtualKeyCode=code, text=text)
        self.page("Input.dispatchKeyEvent", type="keyUp", key=key, windowsVirtualKeyCode=code)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"]))
        return path

    def errors(self) -> list[str]:
        """Uncaught exceptions and console.error calls of the current page so far."""
        with self._cond:
            events = [e for e in self.events if e.get("sessionId") == self.session]
        found = []
        for event in events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("exception", {}).get("description", "exception"))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        return found

    def close(self) -> None:
        with contextlib.suppress(CDPError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_write)
        self._log.close()
