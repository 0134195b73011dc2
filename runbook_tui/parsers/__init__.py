"""Parsers: pure functions from a command's output (str) to plain JSON-serialisable data.

Procedures name them with ``parse: NAME`` and read the result in Jinja expressions. Each
module documents the format it reads and where that format comes from. Malformed input
raises :class:`ParseError`, a sentence naming the line and what was expected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from runbook_tui.errors import RunbookError


class ParseError(RunbookError):
    """Output that does not have the shape the parser reads; ``line`` is 1-based when known."""

    title = "Unexpected output"

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


# name -> (module under runbook_tui.parsers, function). Modules load on first use so that
# the CLI starts without importing the XML and CSV machinery.
_TABLE: dict[str, tuple[str, str]] = {
    "haproxy.servers_state": ("haproxy_servers_state", "parse"),
    "haproxy.stat": ("haproxy_stat", "parse"),
    "haproxy.check": ("haproxy_check", "parse"),
    "freebsd.sockstat": ("freebsd_sockstat", "parse"),
    "pfctl.rdr": ("pfctl_rdr", "parse"),
    "ss.listening": ("ss_listening", "parse"),
    "maillog.connect_from": ("maillog_connect", "parse"),
    "pfsense.config": ("pfsense_config", "parse"),
}

PARSER_NAMES: tuple[str, ...] = tuple(sorted(_TABLE))


def _load(name: str) -> Callable[[str], Any]:
    module, func = _TABLE[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def _registered(name: str) -> Callable[[str], Any]:
    """The parser behind ``name``, loaded lazily; an unexpected failure becomes a ParseError."""

    def parse(text: str) -> Any:
        try:
            return _load(name)(text)
        except ParseError:
            raise
        except Exception as exc:  # a parser bug must still reach the operator as one sentence
            raise ParseError(f"The {name} parser could not read this output ({type(exc).__name__}: {exc}).") from exc

    parse.__name__ = parse.__qualname__ = name.replace(".", "_")
    parse.__doc__ = f"Parse output with the {name} parser."
    return parse


PARSERS: dict[str, Callable[[str], Any]] = {name: _registered(name) for name in PARSER_NAMES}


def get_parser(name: str) -> Callable[[str], Any]:
    """The parser called ``name``; an unknown name raises ParseError listing the known ones."""
    try:
        return PARSERS[name]
    except (KeyError, TypeError):
        raise ParseError(f"There is no parser called {name!r}; known parsers: {', '.join(PARSER_NAMES)}.") from None


__all__ = ["PARSERS", "PARSER_NAMES", "ParseError", "get_parser"]
