"""How a lab proves it is one: ``lab: true`` and 127.0.0.1 are not enough.

An ``ssh -L`` tunnel to the real firewall also sits on 127.0.0.1, and an inventory copied from
a lab keeps ``lab: true``. So each lab start makes a secret (``Lab.proof``), writes it only into
its own inventory (``lab_proof``), and every lab server presents it: the SSH servers in their
version line, sent before any key exchange; the Kubernetes API on every response. A run
relaxes its gates for a lab only when every target presents the inventory's proof.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from runbook_tui.language.inventory import Inventory

PROOF_HEADER = "X-Runbook-Tui-Lab"
TIMEOUT = 10.0  # a lab with --fault latency answers late, a real host never says the words


def lab_version(proof: str) -> str:
    """What a lab SSH server says after ``SSH-2.0-``."""
    return f"runbook-tui-lab-{proof}"


async def proven(inventory: "Inventory") -> bool:
    """Whether every target of INVENTORY presents its ``lab_proof`` (read-only, no login)."""
    proof = inventory.lab_proof
    if not (inventory.lab and proof and inventory.targets):
        return False
    checks = []
    for target in inventory.targets.values():
        if target.ssh:
            if not _loopback(target.ssh.host):
                return False  # a lab is on this machine; a real host is not even asked
            checks.append(_ssh_presents(target.ssh.host, target.ssh.port, proof))
        else:
            assert target.kubernetes is not None  # a target is exactly one of ssh and kubernetes
            checks.append(_api_presents(target.kubernetes.kubeconfig, proof))
    try:
        return all(await asyncio.wait_for(asyncio.gather(*checks), TIMEOUT))
    except Exception:  # no answer, a torn one, an unreadable kubeconfig: not proven, so not a lab
        return False


async def _ssh_presents(host: str, port: int, proof: str) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        line = await reader.readline()  # RFC 4253 4.2: the server speaks first
    finally:
        writer.close()
    return line.decode("ascii", "replace").strip() == f"SSH-2.0-{lab_version(proof)}"


async def _api_presents(kubeconfig: str | None, proof: str) -> bool:
    import yaml

    if not kubeconfig:
        return False
    with open(kubeconfig, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    servers = [c["cluster"]["server"] for c in config.get("clusters", [])]
    if not servers:
        return False
    for server in servers:
        url = urlparse(server)
        if url.scheme != "http" or not _loopback(url.hostname or ""):
            return False  # the lab serves plain HTTP on loopback; anything else is not it
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
        try:
            writer.write(f"GET /version HTTP/1.0\r\nHost: {url.hostname}\r\n\r\n".encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        finally:
            writer.close()
        presented = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
                     if line.lower().startswith(PROOF_HEADER.lower() + ":")]
        if presented != [proof]:
            return False
    return True


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
