"""The shipped procedures, end to end on the rehearsal lab.

Every procedure runs green on a lab in the phase it is written for; a decommission/rollback
round trip holds on one lab; every dry-run leaves the lab's command log free of mutating
commands; each lab fault stops the procedures it should, at the step it should, saying why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lab_runs import PROCEDURES, nat_targets, open_lab, run

from runbook_tui.engine import events as ev
from runbook_tui.lab.state import METALLB_IP, PFSENSE_IP
from runbook_tui.language.inputs import resolve
from runbook_tui.workspace import Workspace


def aliases(ws: Workspace) -> set[str]:
    return {alias.name for alias in ws.lab.state.running.aliases}


def deleted_probe_jobs(ws: Workspace) -> list[str]:
    return [e["command"] for e in ws.lab.command_log.entries()
            if e["command"].startswith("DELETE ") and "/jobs/probe-" in e["command"]]


def created_jobs(ws: Workspace) -> list[str]:
    return [e["command"] for e in ws.lab.command_log.entries()
            if e["command"].startswith("POST ") and e["command"].endswith("/jobs")]


# --------------------------------------------------------------------------- green runs


async def test_validate_green_and_probe_job_cleaned_up(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "validate")
        assert r.ok, r.explain()
        # Independent checks started together, before any of them finished.
        first_finish = next(i for i, e in enumerate(r.events) if isinstance(e, ev.StepFinished))
        started_early = {e.step_id for e in r.events[:first_finish] if isinstance(e, ev.StepStarted)}
        assert {"listeners", "backends-state", "nat-rdr"} <= started_early
        # assumption: the lab's probe prints the seed's SUCCESS line (tests/test_lab_jobs.py).
        assert "Round-trip SUCCESS" in r.output("probe-logs")
        assert len(created_jobs(ws)) == 1 and len(deleted_probe_jobs(ws)) == 1
        job = r.finished["probe-create"].message.split()[0]  # "job/probe-abc123 created ..."
        assert job.startswith("job/probe-") and job.split("/")[1] in deleted_probe_jobs(ws)[0]
    finally:
        await ws.close()


async def test_backend_health_green(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "backend-health")
        assert r.ok, r.explain()
        assert r.status("servers-up") == "ok" and r.status("check-status") == "ok"
        assert not [e for e in ws.lab.command_log.entries() if e["mutating"]]
    finally:
        await ws.close()


async def test_reload_green_restarts_haproxy(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        pid = ws.lab.state.haproxy_pid
        r = await run(ws, "reload", reason="test")
        assert r.ok, r.explain()
        assert ws.lab.state.haproxy_pid != pid  # it really restarted
        assert [e["command"] for e in ws.lab.command_log.entries() if e["mutating"]] == [
            "pfSsh.php playback svc restart haproxy"
        ]
    finally:
        await ws.close()


async def test_reload_brings_a_stopped_haproxy_back(tmp_path):
    ws = await open_lab(tmp_path, faults=("haproxy-stopped",))
    try:
        r = await run(ws, "reload")
        assert r.ok, r.explain()
        assert ws.lab.state.haproxy_running
    finally:
        await ws.close()


async def test_bootstrap_green(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "bootstrap")
        assert r.ok, r.explain()
        assert "haproxy_check_and_run rc=OK" in r.output("run-bootstrap")
        assert r.status("validate") == "ok"
        uploaded = ws.lab.pfsense.path("/tmp/pfsense-haproxy-bootstrap.php").read_text()
        assert uploaded == Path(ws.inventory.vars["bootstrap_script"]).read_text()
    finally:
        await ws.close()


async def test_node_change_removes_a_node(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        script = Path(ws.inventory.vars["bootstrap_script"])
        before = script.read_text()
        nodes = {"k8s-node1": "10.0.20.101", "k8s-node3": "10.0.20.103", "k8s-node4": "10.0.20.104"}
        r = await run(ws, "node-change", nodes=nodes)
        assert r.ok, r.explain()
        assert "-    'k8s-node2' => '10.0.20.102'," in r.output("nodes-diff")
        assert "'k8s-node2'" not in script.read_text()
        backup = next(script.parent.glob(script.name + ".bak-*"))
        assert backup.read_text() == before
        for pool in ws.lab.state.running.pools:
            if pool.name.startswith("mailserver_"):
                assert [s.name for s in pool.servers] == list(nodes)
    finally:
        await ws.close()


async def test_node_change_defaults_to_every_worker_and_blocks_on_a_down_one(tmp_path):
    """During an outage the defaults must not quietly drop the down node from every pool:
    they list every worker (not the control plane) and the Ready guard names the down one."""
    ws = await open_lab(tmp_path, faults=("node-down=k8s-node2",))
    try:
        procedure = ws.procedure("node-change")
        discovered = resolve(procedure, {}, await ws.discover(procedure))
        assert discovered["nodes"] == {"k8s-node1": "10.0.20.101", "k8s-node2": "10.0.20.102",
                                       "k8s-node3": "10.0.20.103", "k8s-node4": "10.0.20.104"}
        assert discovered["nodeports"] == {"smtp": 30125, "smtps": 30126, "submission": 30127, "imaps": 30128}
        script = Path(ws.inventory.vars["bootstrap_script"]).read_text()
        r = await run(ws, "node-change")
        assert r.report.outcome == "failed", r.explain()
        assert r.status("nodes-ready") == "blocked", r.explain()
        message = r.finished["nodes-ready"].message
        assert "NotReady: k8s-node2." in message and "k8s-node1" not in message
        assert r.status("rewrite") is None and r.status("bootstrap") is None
        assert Path(ws.inventory.vars["bootstrap_script"]).read_text() == script
        assert not [e for e in ws.lab.command_log.entries() if e["mutating"]]
        smtp = ws.lab.state.running.pool("mailserver_smtp")
        assert [s.name for s in smtp.servers] == ["k8s-node1", "k8s-node2", "k8s-node3", "k8s-node4"]
    finally:
        await ws.close()


async def test_rollback_nat_green_on_phase_5(tmp_path):
    ws = await open_lab(tmp_path, phase=5)
    try:
        assert nat_targets(ws) == {PFSENSE_IP}
        r = await run(ws, "rollback-nat")
        assert r.ok, r.explain()
        assert nat_targets(ws) == {"mailserver"}
        assert r.status("validate") == "ok"
    finally:
        await ws.close()


async def test_restore_backup_green_with_an_older_backup(tmp_path, need_scp):
    ws = await open_lab(tmp_path)
    try:
        date = (dt.date.today() - dt.timedelta(days=3)).strftime("%Y%m%d")  # three workers only
        r = await run(ws, "restore-backup", date=date, method="copy")
        assert r.ok, r.explain()
        assert r.status("haproxy-restored") == "ok"  # HAProxy was restarted onto the restored pools
        assert "DIFFERS: backend mailserver_smtp servers 10.0.20.101 10.0.20.102 10.0.20.103" in r.output("compare")
        assert [s.name for s in ws.lab.state.running.pool("mailserver_smtp").servers] == [
            "k8s-node1", "k8s-node2", "k8s-node3"]
        saved = list(ws.lab.pfsense.path("/cf/conf").glob("config.xml.before-restore-*"))
        assert len(saved) == 1
    finally:
        await ws.close()


async def test_restore_backup_defaults_to_the_newest(tmp_path, need_scp):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "restore-backup")
        assert r.ok, r.explain()
        newest = dt.date.today().strftime("%Y%m%d")
        assert f"config-{newest}.xml" in r.output("chosen")
    finally:
        await ws.close()


async def test_restore_backup_through_the_webui_is_a_manual_step(tmp_path, need_scp):
    """method=webui: the runbook's WebUI restore, by hand, with the exact clicks and the file
    to upload; nothing copies over config.xml and nothing reloads behind the operator's back."""
    ws = await open_lab(tmp_path)
    try:
        config = ws.lab.pfsense.path("/cf/conf/config.xml")
        before = config.read_text()
        r = await run(ws, "restore-backup", method="webui")
        assert r.ok, r.explain()
        assert r.status("restore-webui") == "ok"
        for step in ("restore", "apply"):
            assert r.status(step) == "skipped", f"{step}: {r.status(step)}"
        text = next(e.text for e in r.events if isinstance(e, ev.GateRequested) and e.step_id == "restore-webui")
        newest = dt.date.today().strftime("%Y%m%d")
        for words in ("Diagnostics → Backup & Restore", "Restore area **All**", "**Restore Configuration**",
                      f"config-{newest}.xml", "/tmp/pfsense-restore-"):
            assert words in text, f"the manual step lacks {words!r}: {text}"
        assert config.read_text() == before  # the lab's WebUI was not used: nothing restored
        assert r.status("validate") == "ok"
    finally:
        await ws.close()


async def test_round_trip_decommission_rollback_decommission(tmp_path):
    """On one lab: decommission-metallb, validate, rollback, validate (the old way),
    decommission-metallb again, validate; the lab's state checked after each."""
    ws = await open_lab(tmp_path, phase=5)
    state = ws.lab.state
    try:
        assert state.service_type == "LoadBalancer" and state.pool_counts() == (3, 18)

        def phase_6() -> None:
            assert state.service_type == "ClusterIP" and state.lb_ip is None
            assert state.pool_counts() == (2, 19)
            assert "mailserver" not in aliases(ws)
            assert nat_targets(ws) == {PFSENSE_IP}

        def rolled_back() -> None:
            assert state.service_type == "LoadBalancer" and state.lb_ip == METALLB_IP
            assert state.pool_counts() == (3, 18)
            assert ws.lab.state.running.alias("mailserver").addresses == [METALLB_IP]
            assert nat_targets(ws) == {"mailserver"}

        for pid, given, check in [
            ("decommission-metallb", {}, phase_6),
            ("validate", {}, phase_6),
            ("rollback", {}, rolled_back),
            ("validate", {"path": "metallb"}, rolled_back),
            ("decommission-metallb", {}, phase_6),
            ("validate", {}, phase_6),
        ]:
            r = await run(ws, pid, **given)
            assert r.ok, f"{pid}: {r.explain()}"
            check()
        # The second decommission had to flip NAT back first (the rollback un-flipped it).
        assert sum("flip.php" in e["command"] and "unflip" not in e["command"]
                   for e in ws.lab.command_log.entries() if e["command"].startswith("php ")) == 1
    finally:
        await ws.close()


async def test_validate_is_honest_about_the_path(tmp_path):
    """The haproxy path check fails after a rollback; the metallb one fails in Phase 6."""
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "validate", path="metallb")
        assert not r.ok and "nat-rdr" in r.stopped()
        # The probe starts with the checks; a failed check stops the run and the probe's
        # cleanup (always) still deletes the Job it made: none is left behind.
        assert len(created_jobs(ws)) == len(deleted_probe_jobs(ws)) == 1
        assert not [j for j in ws.lab.api.store.list("batch/v1", "Job", "mailserver")
                    if j["metadata"]["name"].startswith("probe-")]
        assert (await run(ws, "rollback")).ok
        r = await run(ws, "validate")
        assert not r.ok and "nat-rdr" in r.stopped()
    finally:
        await ws.close()


# --------------------------------------------------------------------------- dry-run

DRY = [
    ("validate", 6), ("backend-health", 6), ("bootstrap", 6), ("node-change", 6), ("reload", 6),
    ("rollback", 6), ("rollback-nat", 5), ("restore-backup", 6), ("decommission-metallb", 5),
]

DRY_SKIPPED = {
    "bootstrap": ["syntax"],  # would check the previous run's upload
    "node-change": ["backends-match"],  # would check the pools the bootstrap did not change
}


@pytest.mark.parametrize("pid,phase", DRY)
async def test_dry_run_changes_nothing(tmp_path, pid, phase, need_scp):
    ws = await open_lab(tmp_path, phase=phase)
    try:
        state = ws.lab.state
        before = (state.service_type, state.lb_ip, nat_targets(ws), aliases(ws), state.haproxy_pid)
        script = Path(ws.inventory.vars["bootstrap_script"]).read_text()
        r = await run(ws, pid, dry_run=True)
        assert r.ok, r.explain()
        mutating = [e for e in ws.lab.command_log.entries() if e["mutating"]]
        assert mutating == [], f"{pid} dry-run sent mutating commands: {mutating}"
        assert (state.service_type, state.lb_ip, nat_targets(ws), aliases(ws), state.haproxy_pid) == before
        assert Path(ws.inventory.vars["bootstrap_script"]).read_text() == script
        # Checks that would read what a shown-only change left behind are skipped, not faked.
        for step in DRY_SKIPPED.get(pid, ()):
            assert r.status(step) == "skipped", f"{pid}: {step} is {r.status(step)} in dry-run"
        procedure = ws.procedure(pid)
        would = 0
        for step in procedure.steps:
            if not step.is_mutating or r.status(step.id) == "skipped":
                continue
            assert r.status(step.id) == "would-run", f"{pid}: {step.id} is {r.status(step.id)}"
            rendered = r.finished[step.id].rendered
            assert rendered and "{{" not in rendered, f"{pid}: {step.id} rendered {rendered!r}"
            if step.action == "ssh":
                assert step.run.split()[0] in rendered  # the exact command, not a summary
            would += 1
        if procedure.mutating:
            assert would > 0
    finally:
        await ws.close()


# --------------------------------------------------------------------------- faults

# (faults, phase, procedure, inputs, step that stops it, its status, words its message holds)
FAULT_TABLE = [
    (("node-down=k8s-node2",), 6, "validate", {}, "backends-up", "failed", ["k8s-node2"]),
    (("node-down=k8s-node2",), 6, "backend-health", {}, "servers-up", "failed", ["k8s-node2"]),
    (("haproxy-stopped",), 6, "validate", {}, "listeners", "failed", ["expect not met"]),
    (("haproxy-stopped",), 6, "backend-health", {}, "servers-state", "failed", ["exit code 1"]),
    (("probe-fails",), 6, "validate", {}, "probe-success", "failed", ["SUCCESS"]),
    (("api-forbidden=services",), 5, "decommission-metallb", {}, "service-before", "failed", ["forbidden"]),
    (("api-forbidden=services",), 5, "rollback-nat", {}, "service", "failed", ["forbidden"]),
    (("api-forbidden=jobs",), 6, "validate", {}, "probe-create", "failed", ["forbidden"]),
    (("hostkey-changed",), 6, "backend-health", {}, "servers-state", "failed", ["CHANGED", "SHA256:"]),
    (("ssh-drop-after=3",), 6, "reload", {}, "restart", "failed", ["dropped", "may or may not"]),
    ((), 6, "rollback-nat", {}, "pre-phase-6", "blocked", ["dead alias"]),
    ((), 6, "decommission-metallb", {}, "lb-present", "blocked", ["Nothing to decommission"]),
    ((), 5, "rollback", {}, "post-phase-6", "blocked", ["rollback-nat"]),
    ((), 6, "node-change", {"nodes": {"k8s-node1": "10.0.20.109"}}, "nodes-ips", "failed", ["k8s-node1"]),
    ((), 6, "node-change", {"nodes": {"k8s-node9": "10.0.20.109"}}, "nodes-ready", "blocked",
     ["Not a node of this cluster: k8s-node9"]),
    (("node-down=k8s-node2",), 6, "node-change", {}, "nodes-ready", "blocked", ["NotReady: k8s-node2"]),
    ((), 6, "restore-backup", {"date": "19990101"}, "chosen", "blocked", ["no backup for that date"]),
    ((), 6, "restore-backup", {"date": "-2"}, "backup-xml", "failed", ["not well-formed XML"]),
    ((), 6, "restore-backup", {"date": "-9"}, "backup-has-haproxy", "failed", ["backup.data.haproxy"]),
]


@pytest.mark.parametrize(
    "faults,phase,pid,given,step,status,words", FAULT_TABLE,
    ids=[f"{'+'.join(f) or 'phase' + str(p)}-{pid}-{step}" for f, p, pid, _, step, _, _ in FAULT_TABLE],
)
async def test_fault_stops_procedure(tmp_path, faults, phase, pid, given, step, status, words):
    given = dict(given)
    if isinstance(given.get("date"), str) and given["date"].startswith("-"):
        given["date"] = (dt.date.today() - dt.timedelta(days=int(given["date"][1:]))).strftime("%Y%m%d")
    ws = await open_lab(tmp_path, phase=phase, faults=faults)
    try:
        state = ws.lab.state
        before = (state.service_type, nat_targets(ws), aliases(ws))
        r = await run(ws, pid, **given)
        assert r.report.outcome == "failed", r.explain()
        assert r.status(step) == status, r.explain()
        message = r.finished[step].message
        for word in words:
            assert word.lower() in message.lower(), f"{step}: {message!r} lacks {word!r}"
        assert "Traceback" not in message
        if status == "blocked" or pid in ("validate", "backend-health"):
            assert (state.service_type, nat_targets(ws), aliases(ws)) == before
        # A started probe Job is always deleted; none is left behind by a failed check.
        assert len(deleted_probe_jobs(ws)) == len(created_jobs(ws)) or pid != "validate"
    finally:
        await ws.close()


async def test_read_only_checks_survive_a_dropped_connection(tmp_path):
    """A read-only command is simply rerun on a fresh connection; a mutating one is not (see
    the ssh-drop-after row above)."""
    ws = await open_lab(tmp_path, faults=("ssh-drop-after=1",))
    try:
        r = await run(ws, "backend-health")
        assert r.ok, r.explain()
        log = ws.lab.command_log.entries()
        assert log[0].get("note") == "connection dropped"
        assert [e["command"] for e in log[1:]].count(log[0]["command"]) == 1  # rerun once
    finally:
        await ws.close()


# --------------------------------------------------------------------------- the real CLI


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run([sys.executable, "-m", "runbook_tui", "--procedures", PROCEDURES, "run", *args],
                          capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env)


def test_cli_validate_on_the_lab(tmp_path):
    proc = cli(tmp_path, "validate", "--lab", "--yes", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    finished = {e["step_id"]: e["status"] for e in events if e["event"] == "step_finished"}
    assert finished["probe-success"] == "ok" and finished["probe-delete"] == "ok"
    assert events[-1]["event"] == "run_finished" and events[-1]["outcome"] == "succeeded"


def test_cli_rollback_nat_refuses_after_phase_6(tmp_path):
    proc = cli(tmp_path, "rollback-nat", "--lab", "--yes")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "dead alias" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_node_change_typed_gate_and_dry_run(tmp_path):
    proc = cli(tmp_path, "reload", "--lab", "--dry-run", "--yes")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "would" in out and "pfSsh.php playback svc restart haproxy" in out
    proc = cli(tmp_path, "node-change", "--lab", "--yes", "--confirm", "4 nodes")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
