"""The shell's grammar: a command line into ``[(connector, pipeline)]`` of ``Command``s.

Quoting (single, double, backslash), ``|``, ``&&``, ``||``, ``;``, the redirections ``>``,
``>>``, ``2>``, ``2>>``, ``2>&1`` and ``<``, comments, and ``$?`` (marked here, expanded when the
command runs). ``&`` is a syntax error; ``$VAR`` and backquotes stay literal text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ShellSyntaxError(ValueError):
    pass


STATUS_MARK = "\x00?"  # where "$?" expands, marked at parse time so '$?' stays literal
OPERATORS = ("&&", "||", "2>&1", "2>>", ">>", "2>", "|", ";", ">", "<")


@dataclass
class Word:
    text: str
    glob: bool = False  # had an unquoted * ? or [


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (op, target)


def tokenize(line: str) -> list[Word | str]:
    """Words (with quote removal) and operator strings."""
    tokens: list[Word | str] = []
    buf: list[str] = []
    in_word = glob = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal in_word, glob
        if in_word:
            tokens.append(Word("".join(buf), glob))
        buf.clear()
        in_word = glob = False

    while i < n:
        c = line[i]
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("Unterminated quoted string")
            buf.append(line[i + 1 : end])
            in_word = True
            i = end + 1
        elif c == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`':
                    i += 1
                elif line.startswith("$?", i):
                    buf.append(STATUS_MARK)
                    i += 2
                    continue
                buf.append(line[i])
                i += 1
            if i >= n:
                raise ShellSyntaxError("Unterminated quoted string")
            in_word = True
            i += 1
        elif c == "\\" and i + 1 < n:
            buf.append(line[i + 1])
            in_word = True
            i += 2
        elif c in " \t\n":
            flush()
            i += 1
        elif c == "#" and not in_word:
            break
        elif line.startswith("$?", i):
            buf.append(STATUS_MARK)
            in_word = True
            i += 2
        else:
            op = next((o for o in OPERATORS if line.startswith(o, i)), None)
            # "2>" is an operator only at the start of a word.
            if op and not (op.startswith("2") and in_word):
                flush()
                tokens.append(op)
                i += len(op)
                continue
            if c == "&":
                raise ShellSyntaxError("background jobs are not supported")
            buf.append(c)
            glob = glob or c in "*?["
            in_word = True
            i += 1
    flush()
    return tokens


def parse(line: str) -> list[tuple[str, list[Command]]]:
    """``[(connector, pipeline)]`` where connector is ';', '&&' or '||' (the first is ';')."""
    out: list[tuple[str, list[Command]]] = []
    connector = ";"
    pipeline: list[Command] = [Command()]
    tokens = tokenize(line)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, Word):
            pipeline[-1].words.append(tok)
        elif tok in (">", ">>", "2>", "2>>", "<"):
            if i + 1 >= len(tokens) or not isinstance(tokens[i + 1], Word):
                raise ShellSyntaxError("Syntax error: redirection unexpected")
            pipeline[-1].redirects.append((tok, tokens[i + 1].text))  # type: ignore[union-attr]
            i += 1
        elif tok == "2>&1":
            pipeline[-1].redirects.append((tok, ""))
        elif tok == "|":
            if not pipeline[-1].words:
                raise ShellSyntaxError('Syntax error: "|" unexpected')
            pipeline.append(Command())
        else:  # ; && ||
            if not pipeline[-1].words:
                if tok == ";" and len(pipeline) == 1 and not pipeline[0].redirects:
                    i += 1
                    continue
                raise ShellSyntaxError(f'Syntax error: "{tok}" unexpected')
            out.append((connector, pipeline))
            connector, pipeline = tok, [Command()]
        i += 1
    if pipeline[-1].words:
        out.append((connector, pipeline))
    elif len(pipeline) > 1 or connector != ";":
        raise ShellSyntaxError("Syntax error: end of file unexpected")
    return out
