"""Which cluster a target means: its kubeconfig file(s), context, namespace and server, resolved
like kubectl's; and the official client's loader for that kubeconfig and context.

Where the configuration comes from, in kubectl's order: the target's ``kubeconfig``; else every
file of ``KUBECONFIG`` (separated by ``:``), merged by the official client's ``KubeConfigMerger``
(the first file that names a cluster, context or user wins); else ``~/.kube/config``; and when
none of these exists, the pod's service account (the client's ``load_incluster_config``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from runbook_tui.errors import KubeError
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube.threads import load_core

# (connect, read) seconds for ordinary requests: an unroutable address fails in 10 s, not 2 min.
REQUEST_TIMEOUT = (10, 60)
IN_CLUSTER = "in-cluster"  # the context name shown for the service account's configuration


def kubeconfig_path(target: KubeTarget) -> str:
    """The target's kubeconfig, else ``KUBECONFIG`` whole (a list of files), else ``~/.kube/config``."""
    if target.kubeconfig:
        return target.kubeconfig
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    return os.path.expanduser("~/.kube/config")


def _files(path: str) -> list[str]:
    return [os.path.expanduser(p) for p in path.split(os.pathsep) if p]


def _service_account_dir() -> str | None:
    """The service account folder when this process runs in a pod (kubectl's in-cluster test)."""
    # The client's own names (incluster_config), read only inside a pod: importing the kubernetes
    # package costs a tenth of a second of start-up that a kubeconfig read does not need.
    if not (os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT")):
        return None
    load_core()
    from kubernetes.config import incluster_config as ic

    if not os.path.isfile(ic.SERVICE_TOKEN_FILENAME):
        return None
    return os.path.dirname(ic.SERVICE_TOKEN_FILENAME)


def _service_account_namespace(folder: str) -> str:
    try:
        with open(os.path.join(folder, "namespace"), encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


@dataclass
class ClusterChoice:
    """What the kubeconfig says about a target, read without contacting the cluster."""

    context: str
    namespace: str
    server: str | None = None
    error: str | None = None  # one sentence when the kubeconfig cannot serve the target
    in_cluster: bool = False  # no kubeconfig anywhere: the pod's service account


# libyaml's loader when PyYAML has it: the same data in a tenth of the time (the client and the
# team lock both read the kubeconfig as a run starts).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_LOADER)  # a safe loader, C or Python


def _merged(files: list[str]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Contexts and clusters by name, and the current context, of FILES merged like kubectl and
    the official client's KubeConfigMerger: an entry's first file wins, and so does the first
    current-context set (the client's merger keeps the last). Read here with PyYAML, as the
    merger does, without importing the kubernetes package for it."""
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    current = ""
    for path in files:
        config = _load(path)
        if config is None:
            raise ValueError(f"Invalid kube-config. {path} file is empty")
        for item, into in (("contexts", contexts), ("clusters", clusters), ("users", {})):
            for entry in config.get(item, []) or []:
                into.setdefault(entry["name"], entry.get(item[:-1]) or {})
        current = current or config.get("current-context") or ""
    return contexts, clusters, current


def read_kubeconfig(name: str, target: KubeTarget, path: str) -> ClusterChoice:
    """The target's context, else the kubeconfig's current context; the target's namespace, else
    that context's, else ``default``."""
    context = target.context or ""
    namespace = target.namespace or "default"
    files = [f for f in _files(path) if os.path.exists(f)]
    if not files:
        where = path if len(_files(path)) <= 1 else "any of " + ", ".join(_files(path))
        folder = None if target.kubeconfig else _service_account_dir()
        if folder is None:
            return ClusterChoice(context, namespace, error=f"No kubeconfig found at {where} (target {name}).")
        if target.context:
            return ClusterChoice(context, namespace, error=(
                f"Context {target.context!r} needs a kubeconfig, and none was found at {where} "
                f"(target {name} has only the pod's service account)."))
        return ClusterChoice(IN_CLUSTER, target.namespace or _service_account_namespace(folder), in_cluster=True)
    try:
        contexts, clusters, current = _merged(files)
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return ClusterChoice(context, namespace, error=f"The kubeconfig {path} is not valid: {reason}.")
    context = target.context or current
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


def in_cluster_configuration() -> Any:
    """The official client's ``Configuration`` for the pod's service account."""
    load_core()
    from kubernetes import config as kconfig
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException

    configuration = type.__call__(Configuration)  # a fresh one, not a copy of the client's default
    try:
        kconfig.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KubeError(f"The pod's service account cannot be used: {reason}.") from None
    return configuration


def new_api_client(path: str, context: str, *, in_cluster: bool = False) -> Any:
    """The official client's ``ApiClient`` for ``context`` of the kubeconfig at ``path`` (files
    separated by ``:`` are merged), or for the pod's service account when ``in_cluster``."""
    load_core()
    from kubernetes import config as kconfig
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException

    from runbook_tui.transports.kube.threads import MAX_WORKERS

    if in_cluster:
        configuration = in_cluster_configuration()
    else:
        configuration = type.__call__(Configuration)  # a fresh one, not a copy of the client's default
    # One kept connection per request in flight (the default, 5 per CPU, drops the rest).
    configuration.connection_pool_maxsize = MAX_WORKERS
    try:
        api = ApiClient(configuration=configuration) if in_cluster else kconfig.new_client_from_config(
            config_file=path, context=context, persist_config=False, client_configuration=configuration)
    except (ConfigException, ValueError, TypeError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KubeError(f"The kubeconfig {path} is not valid for context {context}: {reason}.") from None
    api.configuration.retries = 0  # fail fast; the engine decides about retries
    return api
