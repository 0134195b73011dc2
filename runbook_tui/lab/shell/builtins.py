"""The shell's builtins: files, echo/printf, test, digests; ``BUILTINS`` names them all."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runbook_tui.lab.shell.handlers import Handler, Result, read_inputs, split_flags
from runbook_tui.lab.shell.text import (
    b_awk,
    b_cut,
    b_grep,
    b_head,
    b_sort,
    b_tail,
    b_tr,
    b_uniq,
    b_wc,
)

if TYPE_CHECKING:
    from runbook_tui.lab.shell.interpreter import Shell


def b_echo(sh: Shell, args: list[str], stdin: str) -> Result:
    words = args[1:]
    newline = True
    if words and words[0] == "-n":
        newline, words = False, words[1:]
    return Result(" ".join(words) + ("\n" if newline else ""))


def b_printf(sh: Shell, args: list[str], stdin: str) -> Result:
    if len(args) < 2:
        return Result(stderr="usage: printf format [arguments ...]\n", code=1)
    fmt = args[1].encode().decode("unicode_escape")
    values = args[2:]
    out = ""
    while True:
        count = len(re.findall(r"%[sd]", fmt))
        chunk, values = values[:count], values[count:]
        chunk += [""] * (count - len(chunk))
        out += re.sub(r"%[sd]", lambda _m: chunk.pop(0), fmt).replace("%%", "%")  # noqa: B023 (used at once)
        if not values or count == 0:
            break
    return Result(out)


def b_cat(sh: Shell, args: list[str], stdin: str) -> Result:
    _, files = split_flags(args[1:])
    got, err = read_inputs(sh, "cat", files, stdin)
    return Result("".join(t for _, t in got), err, 1 if err else 0)


def b_true(sh: Shell, args: list[str], stdin: str) -> Result:
    return Result()


def b_false(sh: Shell, args: list[str], stdin: str) -> Result:
    return Result(code=1)


def _ls_long(sh: Shell, p: Path, name: str) -> str:
    st = p.stat()
    mode = ("d" if p.is_dir() else "-") + ("rwxr-xr-x" if p.is_dir() else "rw-r--r--")
    when = time.strftime("%b %e %H:%M", time.localtime(st.st_mtime))
    owner, group = (sh.user, sh.user) if sh.flavor == "linux" else ("root", "wheel")
    if sh.flavor == "linux":
        return f"{mode} 1 {owner} {group} {st.st_size} {when} {name}"
    return f"{mode}  1 {owner:<5} {group:<5} {st.st_size:>6} {when} {name}"


def b_ls(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, paths = split_flags(args[1:])
    paths = paths or ["."]
    out: list[str] = []
    err = ""
    files = [a for a in paths if sh.resolve(a).exists() and not sh.resolve(a).is_dir()]
    dirs = [a for a in paths if sh.resolve(a).is_dir()]
    for a in paths:
        if not sh.resolve(a).exists():
            err += (
                f"ls: cannot access '{a}': No such file or directory\n"
                if sh.flavor == "linux"
                else f"ls: {a}: No such file or directory\n"
            )
    for a in sorted(files):
        out.append(_ls_long(sh, sh.resolve(a), a) if "l" in flags else a)
    for d in dirs:
        if len(paths) > 1:
            out.append(("\n" if out else "") + f"{d}:")
        entries = sorted(
            p for p in sh.resolve(d).iterdir() if "a" in flags or not p.name.startswith(".")
        )
        if "l" in flags:
            out.append(f"total {sum((p.stat().st_size + 1023) // 1024 for p in entries)}")
        out += [_ls_long(sh, p, p.name) if "l" in flags else p.name for p in entries]
    code = (2 if sh.flavor == "linux" else 1) if err else 0
    return Result("".join(line + "\n" for line in out), err, code)


def _copy_like(sh: Shell, args: list[str], prog: str) -> Result:
    _, ops = split_flags(args[1:])
    if len(ops) != 2:
        return Result(stderr=f"usage: {prog} source target\n", code=64 if sh.flavor != "linux" else 1)
    src, dst = ops
    s = sh.resolve(src)
    if not s.exists():
        return Result(stderr=f"{prog}: {src}: No such file or directory\n", code=1)
    d = sh.resolve(dst)
    if d.is_dir():
        d = d / s.name
    if not d.parent.is_dir():
        return Result(stderr=f"{prog}: {dst}: No such file or directory\n", code=1)
    if prog == "cp":
        shutil.copyfile(s, d)
    else:
        os.replace(s, d)
    sh.mutate()
    return Result()


def b_cp(sh: Shell, args: list[str], stdin: str) -> Result:
    return _copy_like(sh, args, "cp")


def b_mv(sh: Shell, args: list[str], stdin: str) -> Result:
    return _copy_like(sh, args, "mv")


def b_rm(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, ops = split_flags(args[1:])
    err = ""
    for a in ops:
        p = sh.resolve(a)
        if p.is_dir():
            if "r" in flags or "R" in flags:
                shutil.rmtree(p)
                sh.mutate()
            else:
                err += f"rm: {a}: is a directory\n"
        elif p.exists():
            p.unlink()
            sh.mutate()
        elif "f" not in flags:
            err += f"rm: {a}: No such file or directory\n"
    return Result(stderr=err, code=1 if err else 0)


def b_mkdir(sh: Shell, args: list[str], stdin: str) -> Result:
    flags, ops = split_flags(args[1:])
    for a in ops:
        p = sh.resolve(a)
        if p.exists() and "p" not in flags:
            return Result(stderr=f"mkdir: {a}: File exists\n", code=1)
        p.mkdir(parents="p" in flags, exist_ok=True)
        sh.mutate()
    return Result()


def b_touch(sh: Shell, args: list[str], stdin: str) -> Result:
    for a in args[1:]:
        p = sh.resolve(a)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
        sh.mutate()
    return Result()


def _test(sh: Shell, ops: list[str]) -> bool:
    if not ops:
        return False
    if ops[0] == "!":
        return not _test(sh, ops[1:])
    if len(ops) == 1:
        return ops[0] != ""
    if len(ops) == 2:
        op, arg = ops
        p = sh.resolve(arg)
        checks = {
            "-f": p.is_file, "-e": p.exists, "-d": p.is_dir, "-r": p.exists,
            "-s": lambda: p.is_file() and p.stat().st_size > 0,
            "-n": lambda: arg != "", "-z": lambda: arg == "",
        }
        if op in checks:
            return bool(checks[op]())
        raise ValueError(f"{op}: unexpected operator")
    if len(ops) == 3:
        a, op, b = ops
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        nums = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
                "-gt": int.__gt__, "-ge": int.__ge__}
        if op in nums:
            return nums[op](int(a), int(b))
    raise ValueError(f"{ops[1]}: unexpected operator")


def b_test(sh: Shell, args: list[str], stdin: str) -> Result:
    ops = args[1:]
    if args[0] == "[":
        if not ops or ops[-1] != "]":
            return Result(stderr="[: missing ]\n", code=2)
        ops = ops[:-1]
    try:
        return Result(code=0 if _test(sh, ops) else 1)
    except ValueError as err:
        return Result(stderr=f"{args[0]}: {err}\n", code=2)


def b_sha256(sh: Shell, args: list[str], stdin: str) -> Result:
    """FreeBSD ``sha256 [-q] file``."""
    flags, files = split_flags(args[1:])
    out, err = "", ""
    if not files:
        return Result(hashlib.sha256(stdin.encode()).hexdigest() + "\n")
    for f in files:
        p = sh.resolve(f)
        if not p.is_file():
            err += f"sha256: {f}: No such file or directory\n"
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        out += digest + "\n" if "q" in flags else f"SHA256 ({f}) = {digest}\n"
    return Result(out, err, 1 if err else 0)


def b_sha256sum(sh: Shell, args: list[str], stdin: str) -> Result:
    _, files = split_flags(args[1:])
    if not files:
        return Result(hashlib.sha256(stdin.encode()).hexdigest() + "  -\n")
    out, err = "", ""
    for f in files:
        p = sh.resolve(f)
        if not p.is_file():
            err += f"sha256sum: {f}: No such file or directory\n"
            continue
        out += f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {f}\n"
    return Result(out, err, 1 if err else 0)


def b_whoami(sh: Shell, args: list[str], stdin: str) -> Result:
    return Result(sh.user + "\n")


def b_date(sh: Shell, args: list[str], stdin: str) -> Result:
    fmt = next((a[1:] for a in args[1:] if a.startswith("+")), "%a %b %e %H:%M:%S %Z %Y")
    return Result(time.strftime(fmt) + "\n")


def b_pwd(sh: Shell, args: list[str], stdin: str) -> Result:
    return Result(sh.cwd + "\n")


BUILTINS: dict[str, Handler] = {
    "echo": b_echo, "printf": b_printf, "cat": b_cat, "grep": b_grep, "egrep": b_grep,
    "true": b_true, "false": b_false, "ls": b_ls, "cp": b_cp, "mv": b_mv, "rm": b_rm,
    "mkdir": b_mkdir, "touch": b_touch, "test": b_test, "[": b_test, "head": b_head,
    "tail": b_tail, "wc": b_wc, "sort": b_sort, "uniq": b_uniq, "cut": b_cut, "awk": b_awk,
    "whoami": b_whoami, "date": b_date, "pwd": b_pwd, "tr": b_tr,
}
