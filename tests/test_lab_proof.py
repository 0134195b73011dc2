"""A lab proves it is one: `lab: true` on 127.0.0.1 is what an ssh -L tunnel to the real
firewall looks like too, and there --yes must not answer typed gates.

The stand-in for the real firewall is OpenSSH's sshd on loopback (the suite installs it); the
lab is started for real; the CLI runs as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from test_cli_flags import cli

from runbook_tui.lab import Lab

TYPED = """\
id: typed
title: A typed gate
steps:
  - id: change
    local: touch {out}
    confirm: {{text: "Change?", typed: "do it"}}
"""


@pytest.fixture
def real_sshd(tmp_path: Path):
    """OpenSSH's sshd on a loopback port: what a tunnel to a real host answers with."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        if os.environ.get("CI"):
            pytest.fail("sshd is missing: install the Debian package openssh-server")
        pytest.skip("sshd is not installed (Debian: openssh-server)")
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", "/dev/null", "-h", str(key), "-p", str(port),
                             "-o", "ListenAddress=127.0.0.1", "-o", f"PidFile={tmp_path / 'sshd.pid'}"],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "sshd did not start"
            time.sleep(0.05)
    yield port
    proc.kill()
    proc.wait()


async def test_only_a_lab_that_presents_its_proof_relaxes_typed_gates(tmp_path: Path, real_sshd: int) -> None:
    out = tmp_path / "changed"
    (tmp_path / "typed.yaml").write_text(TYPED.format(out=out))
    async with Lab(tmp_path / "lab") as lab:
        inventory = yaml.safe_load(lab.inventory_path.read_text())
        assert inventory["lab"] is True and len(inventory["lab_proof"]) == 32
        assert oct(lab.inventory_path.stat().st_mode & 0o777) == "0o600"

        # The lab's own inventory: a rehearsal, --yes answers the typed gate.
        code, stdout, err = await cli(tmp_path, "run", "typed.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 0 and "[LAB]" in stdout and out.exists(), stdout + err
        out.unlink()

        # The same inventory, pfsense now a tunnel to a real sshd: live, and the typed gate holds.
        tunnel = dict(inventory)
        tunnel["targets"] = {**inventory["targets"], "pfsense": {"ssh": {**inventory["targets"]["pfsense"]["ssh"],
                                                                        "port": real_sshd}}}
        (tmp_path / "tunnel.yaml").write_text(yaml.safe_dump(tunnel))
        # No proof at all (an inventory copied and edited by hand).
        bare = {k: v for k, v in inventory.items() if k != "lab_proof"}
        (tmp_path / "bare.yaml").write_text(yaml.safe_dump(bare))
        # Another lab's proof.
        (tmp_path / "other.yaml").write_text(yaml.safe_dump({**inventory, "lab_proof": "0" * 32}))
        for name in ("tunnel", "bare", "other"):
            code, stdout, err = await cli(tmp_path, "run", "typed.yaml", "--inventory", f"{name}.yaml", "--yes")
            assert code == 3, (name, stdout, err)
            assert "[LIVE]" in stdout and not out.exists(), name


async def test_the_lab_api_presents_its_proof_even_when_it_refuses(tmp_path: Path) -> None:
    from runbook_tui.lab.proof import proven
    from runbook_tui.language.inventory import Inventory

    async with Lab(tmp_path / "lab", faults=["api-forbidden=nodes", "latency=0.2"]) as lab:
        inventory = Inventory.model_validate(yaml.safe_load(lab.inventory_path.read_text()))
        assert await proven(inventory)
        wrong = inventory.model_copy(update={"lab_proof": "f" * 32})
        assert not await proven(wrong)
    assert not await asyncio.wait_for(proven(inventory), 15)  # the lab is gone: nobody answers
