"""Kubernetes transport: one client per cluster target, over the official (synchronous) client.

By concern: ``config`` (which kubeconfig, context, namespace and server a target means; the
official loader), ``client`` (``KubeClient``: the verbs, run in worker threads, and ``KubePool``),
``threads`` (the pool those threads belong to), ``kinds`` (the resource a kind names),
``wait`` (watching for a condition, or for the next change between two looks), ``pods`` (the
pod kubectl would choose, logs, exec), ``pod_cache`` (a controller's pods resolved once per
run), ``jobs`` (the Job kubectl makes from a CronJob), ``discovery_cache`` (the API's resource
types kept between runs) and ``errors`` (an API exception as one ``KubeError`` sentence). The
``kubernetes`` package itself is imported at the first request, in a worker thread: it is slow
to import.
"""

from runbook_tui.transports.kube.client import KubeClient, KubePool, KubeStatus
from runbook_tui.transports.kube.pods import pick_pod, selector_string
from runbook_tui.transports.kube.wait import EventCallback

__all__ = ["EventCallback", "KubeClient", "KubePool", "KubeStatus", "pick_pod", "selector_string"]
