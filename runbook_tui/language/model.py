"""Procedure and Step: what a procedure file says, validated, with YAML source locations.

The loader (``loader.py``) builds these from YAML and attaches where each step came from, so the
engine's events and every error can point at ``procedures/reload.yaml:12``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
K8S_VERBS = ("get", "list", "patch", "apply", "delete", "job-from-cronjob", "wait", "logs", "exec")
ACTIONS = ("ssh", "upload", "k8s", "local", "tcp", "manual", "assert", "call")
READ_ONLY_K8S = frozenset({"get", "list", "logs", "wait"})


class SourceLoc(NamedTuple):
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(value: Any) -> Any:
    """``30s``, ``2m``, ``500ms``, ``1h`` or a number of seconds -> seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("a duration like 30s, 2m or 500ms")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNIT[m.group(2)]
    raise ValueError("a duration like 30s, 2m or 500ms")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _field_loc(model: StepBody | Procedure, name: str) -> SourceLoc | None:
    info = type(model).model_fields.get(name)
    key = (info.alias or name) if info is not None else name
    return model._field_locs.get(key, model._loc)


class InputSpec(_Strict):
    prompt: str | None = None
    type: Literal["string", "int", "bool", "choice", "ip", "list"] = "string"
    default: Any = None
    required: bool = False
    choices: list[Any] | None = None
    pattern: str | None = None
    help: str | None = None
    # A password, token or key: masked (***) wherever it would be shown or stored (screen,
    # --json, journal, report, rendered commands); only the target receives the real value.
    secret: bool = False
    # A read-only Kubernetes query whose result fills the default (e.g. the Ready workers):
    # {target, kind, namespace?, label_selector?, value: "{{ expression over items }}"}
    discover: dict[str, Any] | None = None

    _loc: SourceLoc | None = PrivateAttr(None)

    @property
    def loc(self) -> SourceLoc | None:
        return self._loc


class Confirm(_Strict):
    text: str
    typed: str | None = None

    @classmethod
    def coerce(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class Retry(_Strict):
    attempts: int = Field(3, ge=1, le=1000)
    delay: Duration = 2.0


class UploadSpec(_Strict):
    target: str
    src: str | None = None
    content: str | None = None
    dest: str
    mode: int | str | None = None


class TcpSpec(_Strict):
    host: str
    port: int | str
    timeout: Duration = 5.0
    banner: bool | str = False  # True: read one line; a string: a regex the banner must match


class StepBody(_Strict):
    """Everything a step can say except its identity and graph edges (also the shape of ``undo``)."""

    title: str | None = None
    why: str | None = None

    # Actions: exactly one of ssh, upload, k8s, local, tcp, manual, assert, call.
    ssh: str | None = None
    run: str | None = None
    upload: UploadSpec | None = None
    k8s: Literal[K8S_VERBS] | None = None  # type: ignore[valid-type]
    target: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    api_version: str | None = None
    body: dict[str, Any] | list[Any] | str | None = None
    patch_type: Literal["merge", "strategic", "json"] = "merge"
    cronjob: str | None = None
    condition: str | None = None
    container: str | None = None
    tail: int | None = None
    since: Duration | None = None
    # logs: keep reading as the container writes (kubectl logs -f); the step ends with the container.
    follow: bool = False
    command: list[str] | str | None = None
    label_selector: str | None = None
    local: str | None = None
    cwd: str | None = None
    tcp: TcpSpec | None = None
    manual: str | None = None
    assert_: str | None = Field(None, alias="assert")
    call: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    # Guards and behaviour.
    when: str | bool | None = None
    require: str | bool | None = None
    message: str | None = None
    expect: str | bool | None = None
    until: str | bool | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    mutates: bool | None = None
    confirm: Annotated[Confirm | None, BeforeValidator(Confirm.coerce)] = None
    register_: str | None = Field(None, alias="register", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    parse: str | None = None
    foreach: str | list[Any] | None = None
    concurrency: int = Field(4, ge=1, le=256)
    # What this step prints holds secrets (a config.xml with password hashes and keys): later
    # steps use it, but it is neither shown nor journaled whole, only its size and sha256.
    sensitive: bool = False

    _loc: SourceLoc | None = PrivateAttr(None)
    # Where each key's value was written, by the key as it appears in YAML (set by the loader).
    _field_locs: dict[str, SourceLoc] = PrivateAttr(default_factory=dict)

    @property
    def loc(self) -> SourceLoc | None:
        return self._loc

    def field_loc(self, name: str) -> SourceLoc | None:
        """Where field ``name`` (``"run"``, ``"assert"`` or ``"assert_"``) was written, else the step's place."""
        return _field_loc(self, name)

    @property
    def action(self) -> str | None:
        """The action this step performs (the loader guarantees exactly one)."""
        present = self.actions_present()
        return present[0] if len(present) == 1 else None

    def actions_present(self) -> list[str]:
        values = {
            "ssh": self.ssh,
            "upload": self.upload,
            "k8s": self.k8s,
            "local": self.local,
            "tcp": self.tcp,
            "manual": self.manual,
            "assert": self.assert_,
            "call": self.call,
        }
        return [name for name in ACTIONS if values[name] is not None]

    @property
    def target_name(self) -> str | None:
        """The inventory target this step acts on, if any."""
        if self.ssh is not None:
            return self.ssh
        if self.upload is not None:
            return self.upload.target
        if self.k8s is not None:
            return self.target
        return None

    @property
    def is_mutating(self) -> bool:
        """``mutates`` when given; else true for every action that can change a target."""
        if self.mutates is not None:
            return self.mutates
        action = self.action
        if action == "k8s":
            return self.k8s not in READ_ONLY_K8S
        return action not in ("tcp", "assert")


class Step(StepBody):
    id: str = Field(pattern=SLUG)
    needs: list[str] | None = None  # None: after the previous step
    undo: StepBody | None = None
    # Cleanup: also runs when the run stops early (a failure, a refused gate), whatever became
    # of its needs - e.g. deleting a probe Job "whatever happened".
    always: bool = False

    @property
    def label(self) -> str:
        return self.title or self.id


class Procedure(_Strict):
    id: str = Field(pattern=SLUG)
    title: str
    summary: str | None = None
    tags: list[str] = Field(default_factory=list)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    _path: str = PrivateAttr("<memory>")
    _loc: SourceLoc | None = PrivateAttr(None)
    _field_locs: dict[str, SourceLoc] = PrivateAttr(default_factory=dict)

    def field_loc(self, name: str) -> SourceLoc | None:
        """Where top-level field ``name`` was written, else the procedure's place."""
        return _field_loc(self, name)

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, v: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in v:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"input name {name!r} must be an identifier (letters, digits, _)")
        return v

    @property
    def path(self) -> str:
        return self._path

    @property
    def mutating(self) -> bool:
        return any(step.is_mutating for step in self.steps)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def dependencies(self) -> dict[str, list[str]]:
        """Each step's predecessors: its ``needs``, or the previous step when absent."""
        deps: dict[str, list[str]] = {}
        previous: str | None = None
        for step in self.steps:
            if step.needs is not None:
                deps[step.id] = list(step.needs)
            else:
                deps[step.id] = [previous] if previous else []
            previous = step.id
        return deps
