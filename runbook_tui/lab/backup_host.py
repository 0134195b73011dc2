"""The lab's backup host: Debian-like, holding the nightly pfSense config copies.

``/mnt/backup/pfsense/config-YYYYMMDD.xml`` (dates relative to today):
- today and yesterday: good, identical to the running config;
- 2 days ago: broken (the copy was cut short);
- 3 days ago: good but older: only three worker nodes in the HAProxy pools;
- 9 days ago: from before the HAProxy package was installed (no ``<haproxy>`` section).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from runbook_tui.lab.pfsense import config_xml
from runbook_tui.lab.shell import Result, Shell
from runbook_tui.lab.shell.builtins import b_sha256sum
from runbook_tui.lab.state import NODES, LabState, PfConfig, phase_config

BACKUP_DIR = "/mnt/backup/pfsense"
HOSTNAME = "backup"


def backup_name(days_ago: int, today: dt.date | None = None) -> str:
    day = (today or dt.date.today()) - dt.timedelta(days=days_ago)
    return f"config-{day:%Y%m%d}.xml"


class BackupHost:
    def __init__(self, root: Path, state: LabState):
        self.root = Path(root)
        self.state = state

    def populate(self, current_config: str) -> dict[str, str]:
        """Write the backups; returns {kind: host path} for good/older/broken/no_haproxy."""
        folder = self.root / BACKUP_DIR.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (self.root / "home/backup").mkdir(parents=True, exist_ok=True)
        three = {n: NODES[n] for n in ("k8s-node1", "k8s-node2", "k8s-node3")}
        older = phase_config(self.state.phase, three)
        bare = phase_config(self.state.phase)
        bare = PfConfig(nat=bare.nat, aliases=bare.aliases, haproxy_section=False)
        files = {
            "good": (0, current_config),
            "yesterday": (1, current_config),
            "broken": (2, current_config[: len(current_config) * 2 // 3]),
            "older": (3, config_xml.render(older, 1776200000)),
            "no_haproxy": (9, config_xml.render(bare, 1775700000)),
        }
        out = {}
        for kind, (days, text) in files.items():
            name = backup_name(days)
            (folder / name).write_text(text, encoding="utf-8")
            out[kind] = f"{BACKUP_DIR}/{name}"
        return out

    def shell(self) -> Shell:
        return Shell(
            self.root,
            {
                "sha256sum": b_sha256sum,
                "hostname": lambda sh, a, i: Result(HOSTNAME + "\n"),
                "uname": lambda sh, a, i: Result(
                    "Linux backup 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 "
                    "x86_64 GNU/Linux\n" if "-a" in a else "Linux\n"
                ),
                "xmllint": self.xmllint,
            },
            flavor="linux",
            home="/home/backup",
            user="backup",
        )

    def xmllint(self, sh: Shell, args: list[str], stdin: str) -> Result:
        """``xmllint --noout FILE``: silent and 0 when well-formed."""
        files = [a for a in args[1:] if not a.startswith("--")]
        if not files:
            return Result(stderr="Usage : xmllint [options] XMLfiles ...\n", code=1)
        err = ""
        for f in files:
            try:
                config_xml.parse(sh.read(f))
            except OSError:
                err += f'warning: failed to load external entity "{f}"\n'
            except config_xml.ConfigXMLError as e:
                err += f"{f}:{e.line}: parser error : {str(e).removeprefix('XML error: ')}\n"
        return Result(stderr=err, code=1 if err else 0)
