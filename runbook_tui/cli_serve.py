"""``runbook-tui serve``: the TUI in a browser, through textual-serve.

Each browser session runs its own ``runbook-tui`` process (textual-serve's model). What this
module adds is what an operator's tool needs on a shared machine:
- it listens on 127.0.0.1 unless told otherwise, and every request must carry the random token
  printed at start (in the URL once, then a same-site cookie): textual-serve has no auth;
- against real targets (not the lab, not a dry-run) it refuses to start without --allow-live;
- each session asks who is operating and records that name with every gate answer and in the
  journal (``RUNBOOK_TUI_OPERATOR`` for the session's process);
- nothing is fetched from the internet: the page's font comes from textual-serve's own files.
"""

from __future__ import annotations

import argparse
import html
import re
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

HELP = "serve the terminal UI to a browser on this machine (textual-serve), behind a per-start token"
COOKIE, OPERATOR_COOKIE = "runbook_tui_token", "runbook_tui_operator"
_NAME = re.compile(r"[^\w .@+-]")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--allow-live", action="store_true",
                   help="allow sessions against real targets (without it: only --lab or --dry-run)")


def operator_name(raw: str) -> str:
    """A name fit for the journal: printable word characters, at most 64."""
    return _NAME.sub("", raw).strip()[:64]


def session_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve starts for each browser session: this TUI, same options."""
    argv = [sys.executable, "-m", "runbook_tui"]
    for flag, given in (("--lab", args.lab), ("--dry-run", args.dry_run), ("--offline", args.offline)):
        if given:
            argv.append(flag)
    for flag, value in (("--inventory", args.inventory), ("--phase", args.phase if args.lab else None)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, values in (("--procedures", args.procedures), ("--fault", args.fault),
                         ("--accept-host-key", args.accept_host_key)):
        for value in values:
            argv += [flag, str(value)]
    return shlex.join([*argv, "tui"])


def run(args: argparse.Namespace) -> int:
    if args.context or args.namespace:  # each session is the TUI, which does not take them
        sys.stderr.write("--context and --namespace apply to `run` and `resume`; `serve` (the terminal UI) "
                         "does not take them.\n")
        return 2
    if not (args.lab or args.dry_run or args.offline or args.allow_live):
        sys.stderr.write("runbook-tui serve: a browser session against real targets needs --allow-live "
                         "(or serve the rehearsal lab with --lab, or --dry-run).\n")
        return 2
    try:
        from textual_serve.server import Server  # noqa: F401 (the optional dependency, checked early)
    except ImportError:
        sys.stderr.write("runbook-tui serve needs textual-serve: pip install 'runbook-tui[serve]'.\n")
        return 2
    token = secrets.token_urlsafe(24)
    server = _server(session_command(args), args.host, args.port, token)
    url = f"http://{args.host}:{args.port}/?token={token}"
    print(f"runbook-tui serve: open {url}", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"runbook-tui serve: listening on {args.host}: anyone who can reach it and has the token can "
              "operate; prefer 127.0.0.1 and an SSH tunnel.", flush=True)
    server.serve()
    return 0


def _server(command: str, host: str, port: int, token: str) -> Any:
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, log

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(_guard(token))
            return app

        async def handle_index(self, request: web.Request) -> Any:
            name = operator_name(request.query.get("operator") or request.cookies.get(OPERATOR_COOKIE, ""))
            if not name:
                return web.Response(text=_ASK_NAME.format(token=html.escape(token)), content_type="text/html")
            # The page's URLs follow the address the browser used (an SSH tunnel's local port),
            # not the one we listen on. No await until the page is rendered: requests cannot mix.
            self.public_url = f"{request.scheme}://{request.host}"
            response = await super().handle_index(request)
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
            response.set_cookie(OPERATOR_COOKIE, name, httponly=True, samesite="Strict")
            return response

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve's banner would print the address without the token

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            # textual-serve's handler, with the session's command naming its operator; and only
            # for this page: the cookie is sent by any page on 127.0.0.1, whatever its port.
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                raise web.HTTPForbidden(text=f"runbook-tui serve: a page from {origin} may not open a session.\n")
            name = operator_name(request.cookies.get(OPERATOR_COOKIE, "")) or "unnamed"
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            service: AppService | None = None

            async def close() -> None:
                await websocket.close()

            try:
                await websocket.prepare(request)
                service = AppService(f"RUNBOOK_TUI_OPERATOR={shlex.quote(name)} {self.command}",
                                     write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                     close=close, download_manager=self.download_manager,
                                     debug=self.debug)
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except Exception as error:  # one browser's trouble must not end the server
                log.exception(error)
            finally:
                if service is not None:
                    await service.stop()
            return websocket

    templates = Path(__file__).parent / "web"
    statics = Path(sys.modules[Server.__module__].__file__ or "").parent / "static"
    return GuardedServer(command, host=host, port=port, title="runbook-tui", templates_path=templates,
                         statics_path=statics)


def _guard(token: str) -> Any:
    from aiohttp import web

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> Any:
        given = request.query.get("token") or request.cookies.get(COOKIE, "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise web.HTTPForbidden(text="runbook-tui serve: open the address printed when the server started "
                                         "(it carries the token).\n")
        return await handler(request)

    return guard


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


_ASK_NAME = """<!DOCTYPE html>
<html><head><title>runbook-tui</title>
<style>body{{background:#0c181f;color:#eee;font-family:monospace;display:flex;justify-content:center;
align-items:center;height:90vh}} input,button{{font:inherit;padding:.4em}}</style></head>
<body><form method="get" action="/">
<p>Who is operating? Your name is recorded with every answer you give and in the run's journal.</p>
<input type="hidden" name="token" value="{token}">
<input name="operator" autofocus required maxlength="64" placeholder="your name">
<button type="submit">Open</button>
</form></body></html>
"""
