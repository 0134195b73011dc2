"""Just enough PHP for the lab's pfSense: tokenize a script, catch syntax errors the way PHP 8
reports them, and read literal values (``$NODES = [...]``, ``build_pool('x', 30125, ...)``).

Used when php-cli is not installed (``php_recognise``): the lab then recognises the operator's
scripts by the variables and calls they declare instead of running them (``php_cmd`` runs
them with real php when it can).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class PHPParseError(ValueError):
    def __init__(self, detail: str, line: int):
        self.detail = detail
        self.line = line
        super().__init__(f"syntax error, {detail} on line {line}")

    def message(self, path: str) -> str:
        return f"PHP Parse error:  syntax error, {self.detail} in {path} on line {self.line}"


@dataclass
class Tok:
    kind: str  # open, var, ident, sq, dq, int, op, eof
    text: str
    line: int
    value: Any = None

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of file"
        if self.kind == "sq":
            return f'single-quoted string "{self.value}"'
        if self.kind == "dq":
            return f'double-quoted string "{self.value}"'
        if self.kind == "int":
            return f'integer "{self.text}"'
        if self.kind == "var":
            return f'variable "{self.text}"'
        if self.kind == "ident" and self.text.lower() in _KEYWORDS:
            return f'token "{self.text}"'
        if self.kind == "ident":
            return f'identifier "{self.text}"'
        return f'token "{self.text}"'


_OPS = sorted(
    "=== !== <=> ** ?? ... => -> :: == != <= >= && || ++ -- .= += -= *= /= ?-> <<"
    " ; , ( ) [ ] { } = . + - * / % ! ? : < > & | ^ ~ @ \\".split(),
    key=len,
    reverse=True,
)
_SQ_ESC = re.compile(r"\\([\\'])")


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, line, n = 0, 1, len(src)
    start = src.find("<?php")
    if start < 0:
        return [Tok("eof", "", 1)]  # plain text: PHP would just print it
    line += src.count("\n", 0, start)
    i = start + 5
    toks.append(Tok("open", "<?php", line))
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif src.startswith("?>", i):
            break
        elif c == "#" or src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                # PHP 8 warns and ends the file there.
                raise PHPParseError("unexpected end of file", src.count("\n") + 1)
            line += src.count("\n", i, end)
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise PHPParseError("unexpected end of file", src.count("\n") + 1)
            raw = src[i + 1 : j]
            if c == "'":
                toks.append(Tok("sq", src[i : j + 1], line, _SQ_ESC.sub(r"\1", raw)))
            else:
                value = raw.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"')
                toks.append(Tok("dq", src[i : j + 1], line, value.replace("\\\\", "\\")))
            line += raw.count("\n")
            i = j + 1
        elif c == "$" and i + 1 < n and (src[i + 1].isalpha() or src[i + 1] == "_"):
            m = re.compile(r"\$[A-Za-z_]\w*").match(src, i)
            assert m
            toks.append(Tok("var", m.group(), line))
            i = m.end()
        elif c.isdigit():
            m = re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+)?").match(src, i)
            assert m
            toks.append(Tok("int", m.group(), line, int(m.group(), 0) if "." not in m.group() else float(m.group())))
            i = m.end()
        elif c.isalpha() or c == "_" or c == "\\":
            m = re.compile(r"\\?[A-Za-z_][\w\\]*").match(src, i)
            if m:
                toks.append(Tok("ident", m.group(), line))
                i = m.end()
                continue
            toks.append(Tok("op", c, line))
            i += 1
        else:
            op = next((o for o in _OPS if src.startswith(o, i)), None)
            if op is None:
                raise PHPParseError(f'unexpected character "{c}"', line)
            toks.append(Tok("op", op, line))
            i += len(op)
    toks.append(Tok("eof", "", line))
    return toks


_VALUE = ("sq", "dq", "int", "var")
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_KEYWORDS = {
    "function", "echo", "if", "else", "foreach", "for", "while", "return", "require_once",
    "require", "include", "include_once", "exit", "print", "global", "switch", "unset",
}
_CASTS = {"int", "integer", "bool", "boolean", "float", "double", "string", "array", "object"}


def check_syntax(toks: list[Tok]) -> None:
    """Bracket balance and two values in a row: the mistakes a hand edit makes."""
    stack: list[Tok] = []
    opened: list[int] = []
    prev: Tok | None = None
    for i, t in enumerate(toks):
        if t.kind == "op" and t.text in "([{":
            stack.append(t)
            opened.append(i)
        elif t.kind == "op" and t.text in _CLOSERS:
            if not stack or stack[-1].text != _CLOSERS[t.text]:
                raise PHPParseError(f"unexpected {t.describe()}", t.line)
            stack.pop()
            start = opened.pop()
            inner = toks[start + 1 : i]
            if len(inner) == 1 and inner[0].kind == "ident" and inner[0].text.lower() in _CASTS:
                prev = Tok("cast", ")", t.line)  # (int)$x: a cast, not a call's close
                continue
        elif t.kind == "eof" and stack:
            raise PHPParseError("unexpected end of file", t.line)
        # `if ($x) $y = 1;` is legal, so after ")" only a literal is out of place.
        after_value = prev is not None and (
            prev.kind in _VALUE or (prev.kind == "op" and prev.text == "]")
        )
        after_paren = prev is not None and prev.kind == "op" and prev.text == ")"
        if after_value and t.kind == "ident" and t.text.lower() in _KEYWORDS:
            raise PHPParseError(f"unexpected {t.describe()}", t.line)
        if (after_value and t.kind in _VALUE) or (after_paren and t.kind in ("sq", "dq", "int")):
            expecting = ""
            if stack and stack[-1].text == "[":
                expecting = ', expecting "]"'
            elif stack and stack[-1].text == "(":
                expecting = ', expecting ")"'
            raise PHPParseError(f"unexpected {t.describe()}{expecting}", t.line)
        prev = t


class _NotLiteral(Exception):
    pass


class Script:
    """A parsed PHP script whose literal values can be read."""

    def __init__(self, src: str):
        self.toks = tokenize(src)
        check_syntax(self.toks)

    def _literal(self, i: int) -> tuple[Any, int]:
        """The literal at token ``i`` and the index after it; raises _NotLiteral."""
        t = self.toks[i]
        if t.kind in ("sq", "dq", "int"):
            return t.value, i + 1
        if t.kind == "op" and t.text == "-" and self.toks[i + 1].kind == "int":
            return -self.toks[i + 1].value, i + 2
        if t.kind == "ident" and t.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[t.text.lower()], i + 1
        if t.kind == "op" and t.text == "[":
            return self._array(i + 1, "]")
        if t.kind == "ident" and t.text.lower() == "array" and self.toks[i + 1].text == "(":
            return self._array(i + 2, ")")
        raise _NotLiteral

    def _array(self, i: int, close: str) -> tuple[Any, int]:
        items: list[tuple[Any, Any]] = []
        keyed = False
        while True:
            if self.toks[i].text == close and self.toks[i].kind == "op":
                return (dict(items) if keyed else [v for _, v in items]), i + 1
            value, i = self._literal(i)
            if self.toks[i].text == "=>":
                key, (value, i) = value, self._literal(i + 1)
                keyed = True
                items.append((key, value))
            else:
                items.append((len(items), value))
            t = self.toks[i]
            if t.text == ",":
                i += 1
            elif not (t.kind == "op" and t.text == close):
                raise PHPParseError(f'unexpected {t.describe()}, expecting "{close}"', t.line)

    def var(self, name: str) -> Any:
        """The literal last assigned to ``$name`` at top level, or None."""
        found = None
        for i, t in enumerate(self.toks[:-2]):
            if t.kind == "var" and t.text == "$" + name and self.toks[i + 1].text == "=":
                try:
                    found, _ = self._literal(i + 2)
                except _NotLiteral:
                    pass
        return found

    def has_var(self, name: str) -> bool:
        return any(t.kind == "var" and t.text == "$" + name for t in self.toks)

    def calls(self, func: str) -> list[list[Any]]:
        """Literal arguments of every call to ``func`` (non-literal arguments read as None)."""
        out: list[list[Any]] = []
        for i, t in enumerate(self.toks[:-1]):
            if t.kind != "ident" or t.text != func or self.toks[i + 1].text != "(":
                continue
            if i > 0 and self.toks[i - 1].text == "function":
                continue
            args: list[Any] = []
            j, depth, current = i + 2, 0, None
            start = j
            while True:
                tok = self.toks[j]
                if tok.kind == "eof":
                    break
                if tok.kind == "op" and tok.text in "([{":
                    depth += 1
                elif tok.kind == "op" and tok.text in ")]}":
                    if depth == 0:
                        if j > start:
                            args.append(current)
                        break
                    depth -= 1
                elif tok.text == "," and depth == 0:
                    args.append(current)
                    start, current = j + 1, None
                    j += 1
                    continue
                if j == start:
                    try:
                        current, _ = self._literal(j)
                    except (_NotLiteral, PHPParseError):
                        current = None
                j += 1
            out.append(args)
        return out
