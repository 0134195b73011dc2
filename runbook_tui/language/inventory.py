"""Inventory: the targets a site has and its variables. No secret lives here."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _expand(path: str | None) -> str | None:
    return os.path.expanduser(path) if path else path


def host_is_option(host: str) -> bool:
    """A host that a command line would take for an option."""
    return host.lstrip().startswith("-")


class SSHTarget(BaseModel):
    """An SSH host. Keys come from ``key`` or the SSH agent; host keys from ``known_hosts``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(22, ge=1, le=65535)
    user: str | None = None
    key: str | None = None
    known_hosts: str | None = None

    _paths = field_validator("key", "known_hosts")(lambda v: _expand(v))

    @field_validator("host")
    @classmethod
    def _not_an_option(cls, host: str) -> str:
        # The host ends up on command lines (`ssh {{ targets.x.ssh.host }}` in a `local` step, or
        # any tool an operator points at it), where a leading '-' is read as an option
        # ("-oProxyCommand=...") whatever the shell quoting.
        if host_is_option(host):
            raise ValueError("a host must not start with '-': ssh and other tools would read it as an option")
        return host


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
    # Set by the rehearsal lab. ``lab: true`` alone relaxes nothing: every target must also
    # present ``lab_proof``, a secret the lab made and wrote only here (workspace.lab_proven).
    lab: bool = False
    lab_proof: str | None = None
