"""The rehearsal lab: the seed's mail edge in-process on 127.0.0.1.

pfSense and the backup host are SSH servers over small file trees; the cluster is a Kubernetes
API server holding the mailserver objects. All three answer from one LabState, so what a
procedure changes on one side shows on the other.

    async with Lab(tmp_path, faults=["node-down=k8s-node2"]) as lab:
        inventory = lab.inventory_path

Files written into ``dir``: inventory.yaml, kubeconfig, known_hosts, id_ed25519(.pub),
commands.log, infra/scripts/*.php, and hosts/ (each host's file tree).

Layout. The sub-packages are the parts with a world of their own: ``pfsense/`` (the firewall's
file tree, commands, config.xml, HAProxy, PHP), ``shell/`` (the tiny shell every host runs
commands in) and ``kube/`` (the Kubernetes API server and the mailserver cluster on it). What
stays up here is the lab as a whole, what more than one part or the outside uses: ``Lab``
(this module), ``state`` (the one model every side answers from), ``faults``, ``command_log``,
``proof`` (how a run tells this lab from a real host), ``inventory_file`` (the contract with
the procedures), ``sshd`` (the SSH harness both hosts, and the tests' SSH server, stand on),
``backup_host`` (one small host on that harness), ``cli`` and ``infra/`` (the operator's
scripts the lab hands out).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.faults import FAULTS, Faults, LabError, parse_faults
from runbook_tui.lab.state import LabState

__all__ = ["FAULTS", "Lab", "LabError", "LabState"]

SCRIPT_NAMES = (
    "pfsense-haproxy-bootstrap.php",
    "pfsense-nat-mailserver-haproxy-flip.php",
    "pfsense-nat-mailserver-haproxy-unflip.php",
    "add-mailserver-alias.php",
    "delete-mailserver-alias.php",
)


class Lab:
    def __init__(self, dir: Path | None = None, faults: Sequence[str] = (), phase: int = 6):
        if phase not in (3, 5, 6):
            raise LabError(f"The lab can start at phase 3, 5 or 6, not {phase}.")
        self.faults: Faults = parse_faults(faults)
        self.phase = phase
        self._dir = Path(dir) if dir is not None else None
        self.state = LabState(phase)
        self.pfsense_port = self.backup_port = self.api_port = 0
        # A new secret each start that every lab server presents and only this lab's inventory
        # holds: how a run tells this lab from a tunnel to a real host on 127.0.0.1.
        self.proof = secrets.token_hex(16)
        self._servers: list[Any] = []
        self._api: Any = None
        self.started = False

    # -- paths --------------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise LabError("The lab has no folder until it is started.")
        return self._dir

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.yaml"

    @property
    def kubeconfig_path(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def key_path(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # -- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> "Lab":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> "Lab":
        from runbook_tui.lab.backup_host import BackupHost
        from runbook_tui.lab.inventory_file import write_inventory
        from runbook_tui.lab.kube.cluster import Cluster, exec_is_mutating
        from runbook_tui.lab.kube.kubeconfig import write_kubeconfig
        from runbook_tui.lab.kube.server import KubeAPIServer
        from runbook_tui.lab.pfsense.host import PfSense
        from runbook_tui.lab.sshd import LabSSHServer, generate_key

        if self.started:
            return self
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="runbook-lab-"))
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LabError(f"Cannot create the lab folder {self.dir}: {err.strerror}.") from None
        self._fresh_hosts()
        self.command_log = CommandLog(self.dir / "commands.log")
        self.command_log.path.write_text("", encoding="utf-8")  # one log per lab run
        self._apply_state_faults()

        self.pfsense = PfSense(self.dir / "hosts" / "pfsense", self.state)
        self.pfsense.populate()
        self.backup_host = BackupHost(self.dir / "hosts" / "backup-host", self.state)
        config_text = self.pfsense.path("/cf/conf/config.xml").read_text(encoding="utf-8")
        self.backups = self.backup_host.populate(config_text)
        self._write_scripts()

        client_key = generate_key()
        pf_key, backup_key = generate_key(), generate_key()
        self._write_client_key(client_key)
        f = self.faults
        try:
            pf = LabSSHServer(
                "pfsense", self.pfsense.root, client_key, pf_key, shell=self.pfsense.shell,
                command_log=self.command_log,
                presented_key=generate_key() if f.hostkey_changed else None,
                latency=f.latency, drop_after=f.ssh_drop_after, proof=self.proof,
            )
            self._servers.append(pf)
            self.pfsense_port = await pf.start()
            bk = LabSSHServer(
                "backup-host", self.backup_host.root, client_key, backup_key,
                shell=self.backup_host.shell, command_log=self.command_log,
                latency=f.latency, proof=self.proof,
            )
            self._servers.append(bk)
            self.backup_port = await bk.start()

            self._api = KubeAPIServer(
                command_log=self.command_log, target="cluster", exec_classifier=exec_is_mutating,
                proof=self.proof,
            )
            self._api.forbidden |= f.api_forbidden
            self._api.latency = f.latency
            self.cluster = Cluster(self._api, self.state, self.dir / "hosts" / "cluster" / "mailserver")
            self.cluster.seed()
            self.api_port = await self._api.start("127.0.0.1", 0)
        except OSError as err:
            await self.stop()
            raise LabError(f"The lab could not listen on 127.0.0.1: {err.strerror or err}.") from None
        except BaseException:
            await self.stop()
            raise
        self.pfsense_ssh, self.backup_ssh = pf, bk
        write_kubeconfig(self.kubeconfig_path, self._api.url, context="lab", namespace="mailserver")
        self.known_hosts_path.write_text(pf.known_hosts_line() + bk.known_hosts_line(), encoding="utf-8")
        write_inventory(self.dir, self.pfsense_port, self.backup_port, self.proof)
        self.started = True
        return self

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for s in servers:
            await s.stop()
        if self._api is not None:
            api, self._api = self._api, None
            await api.stop()
        self.started = False

    @property
    def api(self) -> Any:
        """The KubeAPIServer (for tests and in-process callers)."""
        return self._api

    # -- helpers ------------------------------------------------------------------------
    def _apply_state_faults(self) -> None:
        for name in self.faults.nodes_down:
            self.state.nodes[name].ready = False
        if self.faults.haproxy_stopped:
            self.state.stop_haproxy()
        self.state.probe_fails = self.faults.probe_fails

    def _fresh_hosts(self) -> None:
        """Each run starts from clean host trees; only a folder the lab made is wiped."""
        hosts = self.dir / "hosts"
        marker = hosts / ".runbook-lab"
        if hosts.exists() and marker.exists():
            shutil.rmtree(hosts)
        elif hosts.exists() and any(hosts.iterdir()):
            raise LabError(f"{hosts} exists and was not made by the lab; choose another --dir.")
        hosts.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def _write_scripts(self) -> None:
        folder = self.dir / "infra" / "scripts"
        folder.mkdir(parents=True, exist_ok=True)
        source = resources.files("runbook_tui.lab") / "infra"
        for name in SCRIPT_NAMES:
            (folder / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")

    def _write_client_key(self, key: Any) -> None:
        path = self.key_path
        path.unlink(missing_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(key.export_private_key("openssh"))
        path.chmod(0o600)
        (self.dir / "id_ed25519.pub").write_bytes(key.export_public_key())

    def summary(self) -> str:
        """The one ready line."""
        return (
            f"Lab ready (phase {self.phase}): pfsense ssh 127.0.0.1:{self.pfsense_port}, "
            f"backup-host ssh 127.0.0.1:{self.backup_port}, Kubernetes API {self.api_url}; "
            f"files in {self.dir} (inventory.yaml, kubeconfig, commands.log)"
        )
