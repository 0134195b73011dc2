"""Which cluster a target means: its kubeconfig file, context, namespace and server, resolved like
kubectl's; and the official client's loader for that kubeconfig and context."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from runbook_tui.errors import KubeError
from runbook_tui.language.inventory import KubeTarget

# (connect, read) seconds for ordinary requests: an unroutable address fails in 10 s, not 2 min.
REQUEST_TIMEOUT = (10, 60)


def kubeconfig_path(target: KubeTarget) -> str:
    if target.kubeconfig:
        return target.kubeconfig
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


@dataclass
class ClusterChoice:
    """What the kubeconfig says about a target, read without contacting the cluster."""

    context: str
    namespace: str
    server: str | None = None
    error: str | None = None  # one sentence when the kubeconfig cannot serve the target


def read_kubeconfig(name: str, target: KubeTarget, path: str) -> ClusterChoice:
    """The target's context, else the kubeconfig's current context; the target's namespace, else
    that context's, else ``default``."""
    context = target.context or ""
    namespace = target.namespace or "default"
    if not os.path.exists(path):
        return ClusterChoice(context, namespace, error=f"No kubeconfig found at {path} (target {name}).")
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
        clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return ClusterChoice(context, namespace, error=f"The kubeconfig {path} is not valid: {reason}.")
    context = target.context or config.get("current-context") or ""
    if not context:
        return ClusterChoice(
            context, namespace,
            error=f"The kubeconfig {path} names no current context; set one for target {name}.",
        )
    if context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        return ClusterChoice(
            context, namespace,
            error=f"Context {context!r} is not in the kubeconfig {path} (contexts: {known}).",
        )
    ctx = contexts[context]
    server = (clusters.get(ctx.get("cluster")) or {}).get("server")
    return ClusterChoice(context, target.namespace or ctx.get("namespace") or "default", server)


def new_api_client(path: str, context: str) -> Any:
    """The official client's ``ApiClient`` for ``context`` of the kubeconfig at ``path``."""
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException

    try:
        api = kconfig.new_client_from_config(config_file=path, context=context, persist_config=False)
    except (ConfigException, ValueError, TypeError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KubeError(f"The kubeconfig {path} is not valid for context {context}: {reason}.") from None
    api.configuration.retries = 0  # fail fast; the engine decides about retries
    return api
