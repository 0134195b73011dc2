"""A kubeconfig for the lab's API server: what kubectl and the official client are pointed at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_kubeconfig(
    path: str | Path,
    url: str,
    context: str = "lab",
    namespace: str | None = None,
    *,
    token: str = "lab-token",
    user: str = "lab",
) -> Path:
    """A kubeconfig for a plain-HTTP server with a token user, accepted by kubectl and the client."""
    ctx: dict[str, Any] = {"cluster": context, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path
