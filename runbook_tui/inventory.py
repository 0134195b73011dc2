"""Inventory: the targets a site has and its variables. No secret lives here."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _expand(path: str | None) -> str | None:
    return os.path.expanduser(path) if path else path


class SSHTarget(BaseModel):
    """An SSH host. Keys come from ``key`` or the SSH agent; host keys from ``known_hosts``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(22, ge=1, le=65535)
    user: str | None = None
    key: str | None = None
    known_hosts: str | None = None

    _paths = field_validator("key", "known_hosts")(lambda v: _expand(v))


class KubeTarget(BaseModel):
    """A Kubernetes cluster as kubectl sees it: kubeconfig, context and default namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None

    _paths = field_validator("kubeconfig")(lambda v: _expand(v))


class Target(BaseModel):
    """Exactly one of ``ssh`` or ``kubernetes``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ssh: SSHTarget | None = None
    kubernetes: KubeTarget | None = None

    @property
    def kind(self) -> str:
        return "ssh" if self.ssh else "kubernetes"


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: dict[str, Target] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)
    lab: bool = False  # set by the rehearsal lab; relaxes typed gates under --yes
