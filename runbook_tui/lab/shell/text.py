"""The shell's text tools: grep, awk, head, tail, wc, sort, uniq, cut."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runbook_tui.lab.shell.handlers import Result, read_inputs, split_flags

if TYPE_CHECKING:
    from runbook_tui.lab.shell.interpreter import Shell

_POSIX_CLASSES = {
    "[:digit:]": r"0-9", "[:alpha:]": r"a-zA-Z", "[:alnum:]": r"a-zA-Z0-9",
    "[:space:]": r"\s", "[:upper:]": r"A-Z", "[:lower:]": r"a-z", "[:xdigit:]": r"0-9A-Fa-f",
}


def _regex(pattern: str, extended: bool, fixed: bool, icase: bool) -> re.Pattern[str]:
    if fixed:
        src = re.escape(pattern)
    else:
        for k, v in _POSIX_CLASSES.items():
            pattern = pattern.replace(k, v)
        if extended:
            src = pattern
        else:  # BRE: \( \) \{ \} \| \+ \? are the special forms, the bare ones literal
            src, i = "", 0
            while i < len(pattern):
                c = pattern[i]
                if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "(){}|+?":
                    src += pattern[i + 1]
                    i += 2
                    continue
                src += "\\" + c if c in "(){}|+?" else c
                i += 1
    return re.compile(src, re.IGNORECASE if icase else 0)


def b_grep(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, rest = split_flags(args[1:], with_value="e")
    if args[0] == "egrep":
        flags["E"] = ""
    if "e" in flags:
        pattern = flags["e"]
    elif rest:
        pattern = rest.pop(0)
    else:
        return Result(stderr="usage: grep [-cEFilnqv] [-e pattern] [pattern] [file ...]\n", code=2)
    try:
        rx = _regex(pattern, "E" in flags, "F" in flags, "i" in flags)
    except re.error:
        return Result(stderr="grep: invalid regular expression\n", code=2)
    got, err = read_inputs(sh, "grep", rest, stdin)
    lines_out, total = [], 0
    for name, text in got:
        count = 0
        for lineno, line in enumerate(text.splitlines(), start=1):
            if bool(rx.search(line)) != ("v" in flags):
                count += 1
                prefix = f"{name}:" if len(got) > 1 else ""
                prefix += f"{lineno}:" if "n" in flags else ""
                lines_out.append(prefix + line)
        total += count
    out = ""
    if "c" in flags:
        out = f"{total}\n"
    elif "q" not in flags:
        out = "".join(ln + "\n" for ln in lines_out)
    code = 0 if total else 1
    if err and not ("q" in flags and total):
        code = 2
    return Result(out, "" if "s" in flags else err, code)


def _count_arg(args: list[str]) -> tuple[int, list[str]]:
    rest = list(args)
    n = 10
    if rest and re.fullmatch(r"-\d+", rest[0]):
        return int(rest[0][1:]), rest[1:]
    flags, rest = split_flags(rest, with_value="n")
    if "n" in flags:
        n = int(flags["n"].lstrip("+-") or 10)
    return n, rest


def b_head(sh: Shell, args: list[str], stdin: str) -> Result:
    n, files = _count_arg(args[1:])
    got, err = read_inputs(sh, "head", files, stdin)
    out = "".join("".join(ln + "\n" for ln in t.splitlines()[:n]) for _, t in got)
    return Result(out, err, 1 if err else 0)


def b_tail(sh: Shell, args: list[str], stdin: str) -> Result:
    n, files = _count_arg(args[1:])
    got, err = read_inputs(sh, "tail", files, stdin)
    out = "".join("".join(ln + "\n" for ln in t.splitlines()[-n:] if n) for _, t in got)
    return Result(out, err, 1 if err else 0)


def b_wc(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, files = split_flags(args[1:])
    got, err = read_inputs(sh, "wc", files, stdin)
    out = ""
    for name, text in got:
        count = text.count("\n") if "l" in flags or not flags else len(text.split())
        if sh.flavor == "linux":
            out += f"{count}" + (f" {name}" if name != "-" else "") + "\n"
        else:
            out += f"{count:>8}" + (f" {name}" if name != "-" else "") + "\n"
    return Result(out, err, 1 if err else 0)


def b_sort(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, files = split_flags(args[1:])
    got, err = read_inputs(sh, "sort", files, stdin)
    lines = [ln for _, t in got for ln in t.splitlines()]

    def key(s: str) -> tuple[float, str]:
        m = re.match(r"\s*-?\d+(\.\d+)?", s)
        return (float(m.group()) if m else 0.0, s)

    lines.sort(key=key if "n" in flags else None, reverse="r" in flags)
    if "u" in flags:
        lines = list(dict.fromkeys(lines))
    return Result("".join(ln + "\n" for ln in lines), err, 2 if err else 0)


def b_uniq(sh: Shell, args: list[str], stdin: str) -> Result:
    out: list[str] = []
    for ln in stdin.splitlines():
        if not out or out[-1] != ln:
            out.append(ln)
    return Result("".join(ln + "\n" for ln in out))


def b_cut(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, files = split_flags(args[1:], with_value="df")
    delim = flags.get("d", "\t")
    fields: list[int] = []
    for part in flags.get("f", "1").split(","):
        lo, _, hi = part.partition("-")
        fields += list(range(int(lo), int(hi or lo) + 1)) if "-" in part and hi else [int(lo)]
    got, err = read_inputs(sh, "cut", files, stdin)
    out = []
    for _, text in got:
        for ln in text.splitlines():
            cols = ln.split(delim)
            out.append(delim.join(cols[f - 1] for f in fields if f <= len(cols)) if delim in ln else ln)
    return Result("".join(ln + "\n" for ln in out), err, 1 if err else 0)


# awk: a pattern ('NR>1', '/re/', '$3 == "x"') and a '{print ...}' action, which is what
# runbooks use it for.
_AWK_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\$NF|\$\d+|NF|NR|,|[^\s,]+)')


def _awk_value(tok: str, fields: list[str], line: str, nr: int) -> str:
    if tok == "$0":
        return line
    if tok == "$NF":
        return fields[-1] if fields else ""
    if tok.startswith("$"):
        i = int(tok[1:])
        return fields[i - 1] if 0 < i <= len(fields) else ""
    if tok == "NF":
        return str(len(fields))
    if tok == "NR":
        return str(nr)
    if tok.startswith('"'):
        return tok[1:-1].encode().decode("unicode_escape")
    return tok


def _awk_match(pattern: str, fields: list[str], line: str, nr: int) -> bool:
    pattern = pattern.strip()
    if not pattern:
        return True
    if pattern.startswith("!"):
        return not _awk_match(pattern[1:], fields, line, nr)
    m = re.fullmatch(r"/(.*)/", pattern)
    if m:
        return re.search(m.group(1), line) is not None
    m = re.fullmatch(r"(\S+?)\s*(~|!~)\s*/(.*)/", pattern)
    if m:
        hit = re.search(m.group(3), _awk_value(m.group(1), fields, line, nr)) is not None
        return hit if m.group(2) == "~" else not hit
    m = re.fullmatch(r"(\S+?)\s*(==|!=|>=|<=|>|<)\s*(\S+)", pattern)
    if m:
        a = _awk_value(m.group(1), fields, line, nr)
        b = _awk_value(m.group(3), fields, line, nr)
        try:
            x, y = float(a), float(b)
        except ValueError:
            x, y = a, b  # type: ignore[assignment]
        return {"==": x == y, "!=": x != y, ">=": x >= y, "<=": x <= y, ">": x > y, "<": x < y}[
            m.group(2)
        ]
    raise ValueError(pattern)


def b_awk(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, rest = split_flags(args[1:], with_value="F")
    if not rest:
        return Result(stderr="usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]\n", code=2)
    prog, files = rest[0], rest[1:]
    m = re.fullmatch(r"\s*([^{]*?)\s*(?:\{\s*(.*?)\s*;?\s*\})?\s*", prog, re.S)
    if not m:
        return Result(stderr=f"awk: syntax error at source line 1\n context is\n\t{prog}\n", code=2)
    pattern, action = m.group(1), m.group(2)
    if action is None:
        action = "print"
    if not action.startswith("print"):
        return Result(stderr=f"awk: syntax error at source line 1\n context is\n\t{prog}\n", code=2)
    exprs = action[len("print"):].strip()
    sep = flags.get("F")
    got, err = read_inputs(sh, "awk", files, stdin)
    out: list[str] = []
    nr = 0
    for _, text in got:
        for line in text.splitlines():
            nr += 1
            fields = line.split(sep) if sep else line.split()
            try:
                if not _awk_match(pattern, fields, line, nr):
                    continue
            except ValueError:
                return Result(stderr=f"awk: syntax error at source line 1\n context is\n\t{prog}\n", code=2)
            if not exprs:
                out.append(line)
                continue
            parts, cur = [], ""
            for tok in _AWK_TOKEN.findall(exprs):
                if tok == ",":
                    parts.append(cur)
                    cur = ""
                else:
                    cur += _awk_value(tok, fields, line, nr)
            parts.append(cur)
            out.append(" ".join(parts))
    return Result("".join(ln + "\n" for ln in out), err, 2 if err else 0)


_TR_CLASSES = {
    "[:digit:]": "0123456789", "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
    "[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t",
}
_TR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _tr_set(spec: str) -> str:
    """A tr set: ranges (``a-z``), classes (``[:upper:]``) and escapes (``\\n``) spelled out."""
    for k, v in _TR_CLASSES.items():
        spec = spec.replace(k, v)
    chars: list[str] = []
    i = 0
    while i < len(spec):
        c = spec[i]
        if c == "\\" and i + 1 < len(spec):
            c = _TR_ESCAPES.get(spec[i + 1], spec[i + 1])
            i += 1
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars += [chr(x) for x in range(ord(c), ord(spec[i + 2]) + 1)]
            i += 3
            continue
        chars.append(c)
        i += 1
    return "".join(chars)


def b_tr(sh: Shell, args: list[str], stdin: str) -> Result:
    """``tr [-ds] set1 [set2]`` on stdin."""
    flags, sets = split_flags(args[1:])
    if not sets or len(sets) > 2 or ("d" not in flags and "s" not in flags and len(sets) != 2):
        return Result(stderr="tr: missing operand\n", code=1)
    first = _tr_set(sets[0])
    if "d" in flags:
        text = "".join(c for c in stdin if c not in first)
        squeeze = _tr_set(sets[1]) if len(sets) > 1 else ""
    else:
        second = _tr_set(sets[1]) if len(sets) > 1 else ""
        if second:
            second += second[-1] * max(0, len(first) - len(second))
            table = {ord(a): b for a, b in zip(first, second)}
            text = stdin.translate(table)
        else:
            text = stdin
        squeeze = second or first if "s" in flags else ""
    if squeeze:
        text = re.sub("([" + re.escape(squeeze) + "])\\1+", r"\1", text)
    return Result(text)
