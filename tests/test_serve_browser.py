"""`runbook-tui serve` in a real headless Chromium, driven over the DevTools protocol: the token
is required, nothing is fetched from outside this machine, the home screen renders, a key works,
and the session's process carries its operator's name."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import ROOT, runbook

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0  # not listening yet


@pytest.fixture
def served(tmp_path: Path, env):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "runbook_tui", "serve", "--lab", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "open http://127.0.0.1:" in line, line
    url = line.split("open ", 1)[1].strip()
    deadline = time.monotonic() + 20
    while status(url) != 200:
        assert time.monotonic() < deadline, "serve did not answer"
        time.sleep(0.2)
    yield url, process
    os.killpg(process.pid, 15)
    process.wait(timeout=20)


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands, and the events we collect."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0
        self.frames: list[bytes] = []
        self.requests: list[str] = []
        self.pending: dict[int, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                response = data["params"]["response"]
                payload = response["payloadData"]
                self.frames.append(base64.b64decode(payload) if response["opcode"] == 2 else payload.encode())
            elif data.get("method") == "Network.requestWillBeSent":
                self.requests.append(data["params"]["request"]["url"])

    async def send(self, method: str, **params) -> dict:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, reply
        return reply.get("result", {})

    def seen(self) -> bytes:
        return b"".join(self.frames)

    async def until_seen(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen():
            assert time.monotonic() < deadline, f"{text!r} never reached the browser"
            await asyncio.sleep(0.2)

    async def key(self, key: str) -> None:
        await self.send("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key)


def session_environs(server_pid: int) -> list[bytes]:
    """The environments of the TUI processes the server started for its browser sessions."""
    children = subprocess.run(["pgrep", "-s", str(server_pid), "-f", "runbook_tui.*tui"], capture_output=True,
                              text=True).stdout.split()
    environs = []
    for pid in children:
        try:
            environs.append(Path(f"/proc/{pid}/environ").read_bytes())
        except OSError:
            pass
    return environs


async def _browse(url: str, profile: Path, shot: Path, server_pid: int) -> tuple[DevTools, list[bytes]]:
    import aiohttp

    port = free_port()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "--window-size=1280,800",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "chromium did not start"
            await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            await tools.send("Network.enable")
            await tools.send("Page.enable")
            await tools.send("Page.navigate", url=f"{url}&operator=alice")
            await tools.until_seen(b"Validate")  # a procedure's title: the home screen is up
            await asyncio.sleep(1.0)  # let the last frames paint before the picture
            picture = await tools.send("Page.captureScreenshot", format="png")
            shot.write_bytes(base64.b64decode(picture["data"]))
            await tools.send("Input.dispatchMouseEvent", type="mousePressed", x=640, y=400, button="left",
                             clickCount=1)
            await tools.send("Input.dispatchMouseEvent", type="mouseReleased", x=640, y=400, button="left",
                             clickCount=1)
            before = len(tools.seen())
            await tools.key("r")
            await tools.until_seen(b"No runs yet")  # the runs screen, opened by its key
            assert len(tools.seen()) > before
            environs = session_environs(server_pid)  # while the session is open: it ends with the page
            tools.reader.cancel()
            return tools, environs
    finally:
        browser.terminate()
        browser.wait(timeout=20)


def test_the_browser_face_renders_home_and_takes_a_key(served, tmp_path: Path):
    url, server = served
    base = url.split("?")[0]
    assert status(base) == 403  # no token
    assert status(base + "?token=wrong") == 403
    assert status(base.rstrip("/") + "/static/js/textual.js") == 403
    shot = Path(os.environ.get("RUNBOOK_TUI_SERVE_SCREENSHOT", tmp_path / "serve-home.png"))
    tools, environs = asyncio.run(_browse(url, tmp_path / "profile", shot, server.pid))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    # Everything the page loaded came from the server itself.
    outside = [u for u in tools.requests if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))]
    assert not outside, outside
    # The session's own process runs under the operator's name.
    assert any(b"RUNBOOK_TUI_OPERATOR=alice\0" in e for e in environs), len(environs)


@pytest.mark.parametrize("before, after", [((), ()), (("--inventory", "inventory.yaml"), ()),
                                           ((), ("--inventory", "inventory.yaml"))])
def test_live_is_refused_without_allow_live(tmp_path: Path, env, before, after):
    (tmp_path / "inventory.yaml").write_text("targets:\n  fw: {ssh: {host: 192.0.2.1}}\n")
    done = runbook(*before, "serve", *after, "--port", str(free_port()), cwd=tmp_path, env=env, timeout=30)
    assert done.returncode == 2
    assert "needs --allow-live" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [("--context", "prod", "serve", "--lab"), ("--namespace", "x", "serve", "--lab")])
def test_kubernetes_overrides_are_refused_not_dropped(tmp_path: Path, env, args):
    """Each session is the TUI, which does not take them: refused, as `runbook-tui --context X`."""
    done = runbook(*args, "--port", str(free_port()), cwd=tmp_path, env=env, timeout=30)
    assert done.returncode == 2 and "does not take them" in done.stderr


@pytest.mark.parametrize("before, after", [(("--dry-run",), ()), ((), ("--dry-run",)), (("--lab",), ())])
def test_a_rehearsal_or_a_dry_run_needs_no_allow_live(tmp_path: Path, env, before, after):
    (tmp_path / "inventory.yaml").write_text("targets:\n  fw: {ssh: {host: 192.0.2.1}}\n")
    process = subprocess.Popen([sys.executable, "-m", "runbook_tui", *before, "serve", *after, "--inventory",
                                "inventory.yaml", "--port", str(free_port())], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "open http://127.0.0.1:" in line, line
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def test_the_operator_name_a_session_is_given_reaches_the_journal(tmp_path: Path, env):
    (tmp_path / "p.yaml").write_text("id: p\ntitle: P\nsteps:\n  - id: s\n    local: 'true'\n    mutates: false\n")
    done = runbook("run", "p.yaml", cwd=tmp_path, env={**env, "RUNBOOK_TUI_OPERATOR": "alice"})
    assert done.returncode == 0, done.stderr
    (journal,) = (tmp_path / "state" / "runs").glob("*.jsonl")
    start = json.loads(journal.read_text().splitlines()[0])
    assert start["operator"].startswith("alice via ")


def test_pages_follow_the_address_used_and_other_origins_are_refused(served):
    url, _ = served
    token = url.split("token=")[1]
    base = url.split("?")[0].rstrip("/")
    port = base.rsplit(":", 1)[1]

    async def check() -> None:
        import aiohttp

        cookies = {"runbook_tui_token": token, "runbook_tui_operator": "alice"}
        async with aiohttp.ClientSession(cookies=cookies) as session:
            # Through an SSH tunnel the browser says another port: the page's URLs follow it.
            async with session.get(f"{base}/", headers={"Host": "127.0.0.1:9000"}) as page:
                text = await page.text()
            assert page.status == 200 and "ws://127.0.0.1:9000/ws" in text and f":{port}/" not in text
            # A page served from another local port has the cookie sent along, but not its origin.
            try:
                async with session.ws_connect(f"{base}/ws", headers={"Origin": "http://127.0.0.1:9999"}):
                    raise AssertionError("a foreign origin opened a session")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 403
            async with session.ws_connect(f"{base}/ws", headers={"Origin": f"http://127.0.0.1:{port}"}) as ws:
                assert not ws.closed

    asyncio.run(check())
