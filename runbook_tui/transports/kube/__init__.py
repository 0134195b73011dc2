"""Kubernetes transport: one client per cluster target, over the official (synchronous) client.

By concern: ``config`` (which kubeconfig, context, namespace and server a target means; the
official loader), ``client`` (``KubeClient``: the verbs, run in worker threads, and ``KubePool``),
``wait`` (watching for a condition), ``pods`` (the pod kubectl would choose, logs, exec) and
``errors`` (an API exception as one ``KubeError`` sentence). The ``kubernetes`` package itself
is imported at first use: it is slow to import.
"""

from runbook_tui.transports.kube.client import KubeClient, KubePool, KubeStatus
from runbook_tui.transports.kube.pods import pick_pod, selector_string
from runbook_tui.transports.kube.wait import EventCallback

__all__ = ["EventCallback", "KubeClient", "KubePool", "KubeStatus", "pick_pod", "selector_string"]
