"""The inventory the lab writes: a contract with the shipped procedures.

A real site's inventory has the same target names and variables with its real addresses.

Targets
- ``pfsense`` (ssh, user ``admin``): the firewall running HAProxy, pf and the PHP scripts.
- ``backup-host`` (ssh, user ``backup``): holds the nightly config.xml copies.
- ``cluster`` (kubernetes, namespace ``mailserver``): the mailserver's cluster.

Variables
- ``pfsense_ip``: pfSense's VLAN20 address, where HAProxy listens and NAT points after Phase 4.
- ``metallb_ip``: the address the mailserver LoadBalancer Service held before Phase 6.
- ``metallb_pool`` / ``metallb_namespace``: the MetalLB IPAddressPool (``default`` in
  ``metallb-system``) whose status counts show whether ``metallb_ip`` is assigned.
- ``namespace``: the mailserver's namespace.
- ``service`` / ``proxy_service``: the ClusterIP (stock ports) and NodePort (PROXY v2) Services.
- ``cluster_ip``: the ``service``'s ClusterIP.
- ``deployment`` / ``container``: where ``kubectl exec ... ss -ltn`` runs.
- ``probe_cronjob``: the CronJob a round-trip probe Job is created from.
- ``nodes``: worker name -> IP, the HAProxy backend servers.
- ``mail_ports``: service name -> stock port (25/465/587/993); HAProxy frontends bind these.
- ``nodeports``: service name -> NodePort on every worker (30125-30128).
- ``alt_ports``: service name -> the container's PROXY-speaking port (2525/4465/5587/10993).
- ``test_port``: HAProxy's extra test frontend on pfSense (2525, into the smtp pool).
- ``haproxy_backends``: service name -> HAProxy backend name as ``show servers state`` prints
  it (pfSense suffixes ``_ipvANY``).
- ``haproxy_socket``: the HAProxy runtime API socket on pfSense.
- ``config_xml`` / ``config_cache``: pfSense's config and the cache to delete after a restore.
- ``remote_tmp``: where scripts and restored files are uploaded on pfSense.
- ``infra_repo``: the operator's infra repository checkout (local path).
- ``bootstrap_script``, ``nat_flip_script``, ``nat_unflip_script``, ``alias_add_script``,
  ``alias_delete_script``: local paths of the pfSense PHP scripts in that repo.
- ``alias_name``: the pfSense host alias that pointed at ``metallb_ip``.
- ``backup_dir``: the folder of ``config-YYYYMMDD.xml`` copies on ``backup-host``.

Optional, read with a fallback (the lab names none of them):
- ``terraform_stack``: the local Terraform stack holding the mailserver Service (the infra
  repo's ``stacks/mailserver``). Named, it makes Terraform the default way rollback and
  decommission-metallb change the Service (the runbook's way); unnamed, an API patch is.
- ``uptime_kuma_url``, ``roundcube_url``, ``smoke_test_address``: shown in the manual checks.

The alias scripts are the default in rollback and decommission-metallb only because the
inventory names both and both exist on the operator's machine; the runbook itself re-adds the
alias in the WebUI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runbook_tui.lab.state import (
    ALIAS_NAME,
    ALT_PORTS,
    CLUSTER_IP,
    MAIL_PORTS,
    METALLB_IP,
    NAMESPACE,
    NODEPORTS,
    NODES,
    PFSENSE_IP,
    POOL_NAME,
    TEST_PORT,
    WORKERS,
)

SCRIPTS = {
    "bootstrap_script": "pfsense-haproxy-bootstrap.php",
    "nat_flip_script": "pfsense-nat-mailserver-haproxy-flip.php",
    "nat_unflip_script": "pfsense-nat-mailserver-haproxy-unflip.php",
    "alias_add_script": "add-mailserver-alias.php",
    "alias_delete_script": "delete-mailserver-alias.php",
}


def inventory(dir: Path, pfsense_port: int, backup_port: int, proof: str | None = None) -> dict[str, Any]:
    dir = Path(dir)
    key, known = str(dir / "id_ed25519"), str(dir / "known_hosts")
    scripts = dir / "infra" / "scripts"
    return {
        "lab": True,
        "lab_proof": proof,
        "targets": {
            "pfsense": {"ssh": {"host": "127.0.0.1", "port": pfsense_port, "user": "admin",
                                "key": key, "known_hosts": known}},
            "backup-host": {"ssh": {"host": "127.0.0.1", "port": backup_port, "user": "backup",
                                    "key": key, "known_hosts": known}},
            "cluster": {"kubernetes": {"kubeconfig": str(dir / "kubeconfig"), "context": "lab",
                                       "namespace": NAMESPACE}},
        },
        "vars": {
            "pfsense_ip": PFSENSE_IP,
            "metallb_ip": METALLB_IP,
            "metallb_pool": POOL_NAME,
            "metallb_namespace": "metallb-system",
            "namespace": NAMESPACE,
            "service": "mailserver",
            "proxy_service": "mailserver-proxy",
            "cluster_ip": CLUSTER_IP,
            "deployment": "mailserver",
            "container": "docker-mailserver",
            "probe_cronjob": "email-roundtrip-monitor",
            "nodes": {n: NODES[n] for n in WORKERS},
            "mail_ports": dict(MAIL_PORTS),
            "nodeports": dict(NODEPORTS),
            "alt_ports": dict(ALT_PORTS),
            "test_port": TEST_PORT,
            "haproxy_backends": {svc: f"mailserver_{svc}_ipvANY" for svc in MAIL_PORTS},
            "haproxy_socket": "/tmp/haproxy.socket",
            "config_xml": "/cf/conf/config.xml",
            "config_cache": "/tmp/config.cache",
            "remote_tmp": "/tmp",
            "infra_repo": str(dir / "infra"),
            **{var: str(scripts / name) for var, name in SCRIPTS.items()},
            "alias_name": ALIAS_NAME,
            "backup_dir": "/mnt/backup/pfsense",
        },
    }


def write_inventory(dir: Path, pfsense_port: int, backup_port: int, proof: str | None = None) -> Path:
    path = Path(dir) / "inventory.yaml"
    text = "# Written by `runbook-tui lab`: the rehearsal lab's targets, all on 127.0.0.1.\n"
    text += yaml.safe_dump(inventory(dir, pfsense_port, backup_port, proof), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # it holds the lab's proof
    return path
