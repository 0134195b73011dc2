"""`runbook-tui run validate` versus the seed runbook's own Validation one-liners, on one lab.

Starts the rehearsal lab in its own process (`runbook-tui lab`), then alternates, on that same
lab: the Validation section's commands pasted into bash as written (real `ssh` and `kubectl`,
pointed at the lab by an ssh_config and KUBECONFIG), and `runbook-tui run validate --yes`.
Prints the medians and their ratio next to the goal; then the same on a lab with latency.

    .venv/bin/python bench/seed_oneliners.py [--rounds 7] [--latency 0.05]

One line differs from the runbook: stock kubectl's `create job --from=cronjob/...` POSTs
protobuf, which the lab's API server does not decode (415). The same Job, rendered once before
timing by `kubectl create job ... --dry-run=client -o json`, is created by one
`kubectl create -f` instead: one kubectl process and one POST, as in the runbook.

`runbook-tui` runs with its bytecode compiled, as an installed tool has it (pip compiles it): a
development shell may set PYTHONDONTWRITEBYTECODE, and every start would then compile each module
edited since its last .pyc from source (~0.05 s). The bench's runs keep their own cache in the
bench's folder (PYTHONPYCACHEPREFIX), written by the warm-up run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {0.0: 1.0, 0.05: 0.6}  # latency -> the ratio goal (validate / one-liners)

# The runbook's "Validation" section, word for word but for the create job line (see above).
ONELINERS = r"""
# All HAProxy frontends listening
ssh admin@10.0.20.1 'sockstat -l | grep haproxy'
# All backend pools healthy
ssh admin@10.0.20.1 "echo 'show servers state' | socat /tmp/haproxy.socket stdio" \
  | awk 'NR>1 {print $3, $4, $6}'
# Container listens on all 8 ports
kubectl exec -n mailserver -c docker-mailserver deployment/mailserver -- \
  ss -ltn | grep -E ':(25|2525|465|4465|587|5587|993|10993)\b'
# pf rdr points at pfSense (10.0.20.1), not <mailserver> alias
ssh admin@10.0.20.1 'pfctl -sn' | grep -E 'port = (25|submission|imaps|smtps)'
# E2E probe
kubectl create --validate=false -f "$PROBE_JOB"
kubectl wait --for=condition=complete --timeout=90s job/probe-test -n mailserver
kubectl logs job/probe-test -n mailserver | grep SUCCESS
kubectl delete job probe-test -n mailserver
# Real client IP in maillog post-delivery
kubectl logs -c docker-mailserver deployment/mailserver -n mailserver \
  | grep 'smtpd-proxy25.*CONNECT from' | tail -5
"""


def _tool(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", "runbook_tui"]


class LabProcess:
    """`runbook-tui lab` in the background, in its own folder."""

    def __init__(self, folder: Path, faults: list[str]):
        self.dir = folder
        argv = _tool("runbook-tui") + ["lab", "--dir", str(folder)]
        for f in faults:
            argv += ["--fault", f]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("Lab ready"):
            self.stop()
            raise SystemExit(f"the lab did not start: {line.strip()}")
        self.pfsense_port = int(line.split("pfsense ssh 127.0.0.1:")[1].split(",")[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


def oneliners_env(lab: LabProcess, state: Path) -> dict[str, str]:
    """ssh and kubectl pointed at the lab; the runbook's text unchanged."""
    ssh_config = state / "ssh_config"
    ssh_config.write_text(
        "Host 10.0.20.1\n"
        "  HostName 127.0.0.1\n"
        f"  Port {lab.pfsense_port}\n"
        f"  IdentityFile {lab.dir / 'id_ed25519'}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {lab.dir / 'known_hosts'}\n"
        "  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n",
        encoding="utf-8",
    )
    bin_dir = state / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"  # `ssh` reads this config: the runbook's host name maps to the lab
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {ssh_config} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    env = dict(os.environ, KUBECONFIG=str(lab.dir / "kubeconfig"), PATH=f"{bin_dir}:{os.environ['PATH']}",
               PROBE_JOB=str(state / "probe-test.json"))
    manifest = subprocess.run(
        ["kubectl", "create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-test", "-n", "mailserver",
         "--dry-run=client", "-o", "json"], env=env, capture_output=True, text=True, check=True).stdout
    (state / "probe-test.json").write_text(manifest, encoding="utf-8")
    return env


def time_oneliners(env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", ONELINERS], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if "condition met" not in proc.stdout or "SUCCESS" not in proc.stdout:
        raise SystemExit(f"the one-liners did not pass on the lab:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def time_validate(lab: LabProcess, env: dict[str, str]) -> float:
    argv = _tool("runbook-tui") + ["run", "validate", "--inventory", str(lab.dir / "inventory.yaml"),
                                   "--yes", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"validate failed on the lab (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def load() -> str:
    """The machine's load average (1, 5, 15 min): the figures depend on what else runs."""
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench(latency: float, rounds: int) -> float:
    before = load()
    with tempfile.TemporaryDirectory(prefix="bench-oneliners-") as tmp:
        state = Path(tmp)
        lab = LabProcess(state / "lab", [f"latency={latency:g}"] if latency else [])
        try:
            env = oneliners_env(lab, state)
            # Journals and caches of these runs stay in the bench's folder.
            run_env = dict(env, RUNBOOK_TUI_STATE_DIR=str(state / "runbook-state"),
                           XDG_CONFIG_HOME=str(state / "config"), PYTHONPYCACHEPREFIX=str(state / "pycache"))
            run_env.pop("PYTHONDONTWRITEBYTECODE", None)
            time_oneliners(env), time_validate(lab, run_env)  # warm-up: kubectl's discovery cache, page cache
            shell, tool = [], []
            for _ in range(rounds):
                shell.append(time_oneliners(env))
                tool.append(time_validate(lab, run_env))
        finally:
            lab.stop()
    med_shell, med_tool = statistics.median(shell), statistics.median(tool)
    ratio = med_tool / med_shell
    goal = GOALS.get(latency)
    where = f"lab with {latency * 1000:g} ms latency per command" if latency else "bare lab"
    verdict = "" if goal is None else f"   goal <= {goal:.1f}x  {'met' if ratio <= goal else 'NOT met'}"
    print(f"validate vs the seed's Validation one-liners, {where} ({rounds} alternating runs each; "
          f"{before} before, {load()} after)")
    print(f"  one-liners (ssh, kubectl), median      {med_shell:6.2f} s  (min {min(shell):.2f})")
    print(f"  runbook-tui run validate --yes, median {med_tool:6.2f} s  (min {min(tool):.2f})")
    print(f"  ratio validate / one-liners            {ratio:6.2f} x{verdict}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.05, help="the second lab's latency (0: skip it)")
    args = parser.parse_args()
    for tool in ("ssh", "kubectl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; the one-liners need it.")
    bench(0.0, args.rounds)
    if args.latency:
        bench(args.latency, args.rounds)


if __name__ == "__main__":
    main()
