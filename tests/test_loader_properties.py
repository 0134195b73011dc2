"""Properties of the loader: any input gives a model or a ProcedureError, never another exception;
valid procedures survive a dump to YAML and back unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_tui.errors import ProcedureError
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.inventory_loader import load_inventory, load_inventory_text
from runbook_tui.language.loader import load_procedure, load_procedure_text
from runbook_tui.language.model import K8S_VERBS, Procedure
from runbook_tui.language.procedure_checks import K8S_NEEDS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(load, *args):
    """Load; a ProcedureError must carry well-formed problems, one line each."""
    try:
        return load(*args)
    except ProcedureError as exc:
        assert exc.problems, "a ProcedureError without problems"
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1, problem
            assert problem.message and "\n" not in problem.message, problem
        return None


# -- anything at all ---------------------------------------------------------------------

VOCABULARY = [
    "id",
    "title",
    "summary",
    "tags",
    "inputs",
    "steps",
    "ssh",
    "run",
    "upload",
    "k8s",
    "local",
    "tcp",
    "manual",
    "assert",
    "call",
    "with",
    "needs",
    "when",
    "require",
    "message",
    "expect",
    "until",
    "retry",
    "timeout",
    "mutates",
    "confirm",
    "typed",
    "text",
    "register",
    "parse",
    "foreach",
    "concurrency",
    "undo",
    "target",
    "kind",
    "name",
    "namespace",
    "body",
    "command",
    "attempts",
    "delay",
    "host",
    "port",
    "src",
    "content",
    "dest",
    "mode",
    "type",
    "choices",
    "default",
    "required",
    "pattern",
    "targets",
    "vars",
    "kubernetes",
    "lab",
    "user",
    "key",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["{{ inputs.x }}", "{{ result.stdout }", "{% if %}", "30s", "patch", "pfsense", "a"]),
    st.sampled_from(list(K8S_VERBS)),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=6)), children, max_size=6),
    ),
    max_leaves=30,
)


@st.composite
def yamlish(draw) -> str:
    """Dumped YAML of random shapes over the real keys, sometimes cut or spliced."""
    text = yaml.safe_dump(draw(documents), allow_unicode=True)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = (
            text[:cut]
            + draw(st.sampled_from(["", ":", "- ", "\t", "&a ", "*a", "---\n", "'", "{", "\n  "]))
            + text[cut:]
        )
    return text


SAMPLES = [
    p.read_text(encoding="utf-8")
    for p in sorted((Path(__file__).parent / "data" / "procedures").glob("*.yaml"))
]
SPLICES = VOCABULARY + [
    ": ",
    "- ",
    "\n",
    "  ",
    "{{",
    "}}",
    "{%",
    "item",
    "result",
    "[",
    "]",
    "'",
    '"',
    "#",
    "*x",
    "&x",
]


@st.composite
def mutated_samples(draw) -> str:
    """A valid shipped sample with a few random edits: deep in the validator's paths."""
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 12)))
        text = text[:start] + draw(st.sampled_from(SPLICES)) + text[end:]
    return text


@SETTINGS
@given(st.one_of(st.text(), yamlish(), mutated_samples()))
def test_any_text_is_a_procedure_or_a_procedure_error(text: str) -> None:
    result = outcome(load_procedure_text, text, "any.yaml")
    assert result is None or isinstance(result, Procedure)


@SETTINGS
@given(st.one_of(st.text(), yamlish(), mutated_samples()))
def test_any_text_is_an_inventory_or_a_procedure_error(text: str) -> None:
    result = outcome(load_inventory_text, text, "any.yaml")
    assert result is None or isinstance(result, Inventory)


@SETTINGS
@given(st.one_of(st.binary(), yamlish().map(lambda t: t.encode("utf-8"))))
def test_any_bytes_in_a_file_are_a_model_or_a_procedure_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.yaml"
        path.write_bytes(data)
        assert outcome(load_procedure, path) is None or True
        assert outcome(load_inventory, path) is None or True


# -- valid procedures round-trip ---------------------------------------------------------

slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
RESERVED = {
    "inputs",
    "vars",
    "targets",
    "run",
    "item",
    "result",
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
}
names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in RESERVED and not hasattr(dict, n)
)
# Free text without template braces (templates are checked, and tested elsewhere).
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{"),
    min_size=1,
    max_size=24,
).filter(lambda s: s.strip())
durations = st.integers(0, 86400).map(float)
expressions = st.sampled_from(["true", "1 == 1", "run.id != ''", "{{ run.id }}"])


@st.composite
def bodies(draw, target_names):
    action = draw(st.sampled_from(["ssh", "upload", "k8s", "local", "tcp", "manual", "assert", "call"]))
    body: dict = {}
    if action == "ssh":
        body.update(ssh=draw(target_names), run=draw(words))
    elif action == "upload":
        spec = {"target": draw(target_names), "dest": "/tmp/" + draw(slugs)}
        spec["content" if draw(st.booleans()) else "src"] = draw(words)
        if draw(st.booleans()):
            spec["mode"] = draw(st.sampled_from(["0644", "0755", 420]))
        body["upload"] = spec
    elif action == "k8s":
        verb = draw(st.sampled_from(list(K8S_VERBS)))
        body["k8s"] = verb
        for field in K8S_NEEDS[verb]:
            body[field] = {
                "target": draw(target_names),
                "body": {"metadata": {"labels": {"a": draw(words)}}},
                "command": draw(st.lists(words, min_size=1, max_size=3)),
            }.get(field, draw(slugs))
        if verb == "logs" and draw(st.booleans()):
            body.update(tail=draw(st.integers(1, 1000)), since=draw(durations))
    elif action == "local":
        body["local"] = draw(words)
    elif action == "tcp":
        body["tcp"] = {"host": draw(slugs), "port": draw(st.integers(1, 65535)), "timeout": draw(durations)}
    elif action == "manual":
        body["manual"] = draw(words)
    elif action == "assert":
        body["assert"] = draw(expressions)
    else:
        body["call"] = "other-" + draw(slugs)
        body["with"] = draw(st.dictionaries(names, words, max_size=2))
    if draw(st.booleans()):
        body["title"] = draw(words)
    if draw(st.booleans()):
        body["why"] = draw(words)
    if draw(st.booleans()):
        body["when"] = draw(st.one_of(expressions, st.booleans()))
    if draw(st.booleans()):
        body["timeout"] = draw(durations)
    if draw(st.booleans()):
        body["mutates"] = draw(st.booleans())
    if draw(st.booleans()):
        body["confirm"] = draw(st.one_of(words, st.fixed_dictionaries({"text": words, "typed": words})))
    if draw(st.booleans()):
        body["retry"] = {"attempts": draw(st.integers(1, 20)), "delay": draw(durations)}
        body["until"] = "{{ result.exit_code == 0 }}"
    return body


@st.composite
def procedures(draw) -> dict:
    step_ids = draw(st.lists(slugs, min_size=1, max_size=5, unique=True))
    targets = st.sampled_from(["pfsense", "cluster", "edge-1"])
    registers = iter(draw(st.lists(names, min_size=len(step_ids), max_size=len(step_ids), unique=True)))
    steps = []
    for i, step_id in enumerate(step_ids):
        step = {"id": step_id, **draw(bodies(targets))}
        if i and draw(st.booleans()):
            step["needs"] = draw(st.lists(st.sampled_from(step_ids[:i]), unique=True))
        if draw(st.booleans()):
            step["register"] = next(registers)
        if draw(st.booleans()):
            step["foreach"] = draw(st.lists(words, min_size=1, max_size=3))
            step["concurrency"] = draw(st.integers(1, 8))
        if draw(st.booleans()):
            step["undo"] = draw(bodies(targets))
        steps.append(step)
    inputs = {}
    for name in draw(st.lists(names, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["string", "int", "bool", "ip", "list", "choice"]))
        spec = {"type": kind, "prompt": draw(words), "required": draw(st.booleans())}
        if kind == "choice":
            spec["choices"] = draw(st.lists(words, min_size=1, max_size=3, unique=True))
            spec["default"] = spec["choices"][0]
        inputs[name] = spec
    return {
        "id": "proc-" + draw(slugs),
        "title": draw(words),
        "summary": draw(st.one_of(st.none(), words)),
        "tags": draw(st.lists(words, max_size=3)),
        "inputs": inputs,
        "steps": steps,
    }


@SETTINGS
@given(procedures(), st.booleans())
def test_valid_procedures_survive_a_yaml_round_trip(raw: dict, full_dump: bool) -> None:
    procedure = Procedure.model_validate(raw)
    dumped = procedure.model_dump(mode="json", by_alias=True, exclude_none=not full_dump)
    text = yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False)
    loaded = load_procedure_text(text, "round-trip.yaml")
    assert loaded.model_dump() == procedure.model_dump()
    assert loaded.path == "round-trip.yaml"
    assert all(step.loc is not None and step.loc.line >= 1 for step in loaded.steps)
