"""The procedures judge by evidence the real systems give, and do what the runbook does.

Every check here is against the rehearsal lab, and every string an assertion looks for is one
the seed runbook shows or the real program prints (REFERENCE.md): nothing the lab alone makes
up. In particular
- a NAT flip/unflip is judged by its exit code and a fresh ``pfctl -sn``, not by what the
  script says about itself;
- the runbook's WebUI steps (the alias, the restore) and its Terraform change are the
  defaults; scripts and API patches only where the inventory names them;
- "the MetalLB IP is free" needs FreeBSD ping's own summary, not any failure;
- the client-IP check reads the last five ``smtpd-proxy25 ... CONNECT from`` lines, as the
  runbook's ``grep | tail -5`` does.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from lab_runs import PROCEDURES, inputs_for, nat_targets, open_lab, run

from runbook_tui.engine import events as ev
from runbook_tui.lab import Lab
from runbook_tui.lab.state import METALLB_IP, PFSENSE_IP
from runbook_tui.language.catalog import Catalog
from runbook_tui.workspace import Workspace

# The seed's own lines.
SEED_PING_LOSS = "2 packets transmitted, 0 packets received, 100.0% packet loss"
SEED_CONNECT = "postfix/smtpd-proxy25/postscreen: CONNECT from ["


def commands(ws: Workspace) -> list[str]:
    return [e["command"] for e in ws.lab.command_log.entries()]


def pool_nodes(ws: Workspace, pool: str = "mailserver_smtp") -> list[str]:
    running = ws.lab.state.running.pool(pool)
    assert running is not None
    return [s.name for s in running.servers]


def all_procedures() -> list[Any]:
    catalog = Catalog(PROCEDURES)
    return [catalog.get(pid) for pid in catalog.ids()]


def steps_of(pid: str) -> dict[str, Any]:
    return {s.id: s for s in Catalog(PROCEDURES).get(pid).steps}


def a_script_that_changes_nothing(ws: Workspace, tmp_path: Path, var: str) -> None:
    """The inventory's NAT script, but for a port no rule forwards: it exits 0 and leaves pf
    as it was (what a wrong $PORTS or a filter reload that did not take looks like)."""
    original = Path(ws.inventory.vars[var])
    text = original.read_text()
    assert "$PORTS = [25, 465, 587, 993];" in text
    copy = tmp_path / original.name
    copy.write_text(text.replace("$PORTS = [25, 465, 587, 993];", "$PORTS = [2525];"))
    ws.inventory.vars[var] = str(copy)


# --------------------------------------------------------------------------- 1. NAT by pf


def test_no_check_rests_on_what_a_nat_script_prints():
    """`filter_configure rc=OK` is no line the seed shows; only the bootstrap's
    `haproxy_check_and_run rc=OK` is."""
    for procedure in all_procedures():
        for step in procedure.steps:
            for check in (step.expect, step.until):
                assert "filter_configure" not in (check or ""), f"{procedure.id}: {step.id} checks {check!r}"


@pytest.mark.parametrize("pid,phase,var,run_step,check_step", [
    ("rollback-nat", 5, "nat_unflip_script", "nat-unflip", "nat-unflipped"),
    ("rollback", 6, "nat_unflip_script", "nat-unflip", "nat-unflipped"),
])
async def test_an_unflip_that_changed_nothing_stops_at_the_pf_read(tmp_path, pid, phase, var, run_step, check_step):
    ws = await open_lab(tmp_path, phase=phase)
    try:
        before = nat_targets(ws)
        a_script_that_changes_nothing(ws, tmp_path, var)
        r = await run(ws, pid)
        assert r.report.outcome == "failed", r.explain()
        assert r.status(run_step) == "ok"  # the script exited 0
        assert r.status(check_step) == "failed", r.explain()  # pf still forwards to HAProxy
        assert r.status("validate") is None  # stopped at once, not somewhere in `validate`
        assert nat_targets(ws) == before == {PFSENSE_IP}
        # The check read pf afresh, after the script.
        log = commands(ws)
        unflip = max(i for i, c in enumerate(log) if c.startswith("php ") and "unflip" in c)
        assert "pfctl -sn" in log[unflip + 1:]
    finally:
        await ws.close()


async def test_a_flip_that_changed_nothing_stops_decommission_before_the_service_changes(tmp_path):
    ws = await open_lab(tmp_path, phase=5)
    try:
        assert (await run(ws, "rollback-nat")).ok  # NAT on the alias: decommission must flip first
        a_script_that_changes_nothing(ws, tmp_path, "nat_flip_script")
        r = await run(ws, "decommission-metallb")
        assert r.report.outcome == "failed", r.explain()
        assert r.status("nat-flip") == "ok" and r.status("nat-flipped") == "failed", r.explain()
        assert r.status("validate-before") is None
        assert ws.lab.state.service_type == "LoadBalancer" and nat_targets(ws) == {"mailserver"}
    finally:
        await ws.close()


async def test_flip_and_unflip_are_judged_by_the_rdr_targets(tmp_path):
    """The green path: after the unflip pf forwards the mail ports to the alias's address
    (pfctl prints the resolved address), after the flip to pfSense itself."""
    ws = await open_lab(tmp_path, phase=5)
    try:
        r = await run(ws, "rollback-nat")
        assert r.ok, r.explain()
        assert r.status("nat-unflipped") == "ok"
        assert f"-> {METALLB_IP} port 25" in "\n".join(
            e.text for e in r.events if isinstance(e, ev.OutputLine) and e.step_id == "nat-unflipped")
        r = await run(ws, "decommission-metallb")
        assert r.ok, r.explain()
        assert r.status("nat-flipped") == "ok"
    finally:
        await ws.close()


# --------------------------------------------------------------------------- 2. the runbook's way


def test_the_runbooks_way_is_the_declared_default():
    for pid in ("rollback", "decommission-metallb"):
        procedure = Catalog(PROCEDURES).get(pid)
        assert procedure.inputs["alias_method"].default == "webui"
        assert procedure.inputs["alias_method"].choices == ["webui", "script"]
        assert procedure.inputs["method"].choices == ["terraform", "patch"]
    restore = Catalog(PROCEDURES).get("restore-backup").inputs["method"]
    assert restore.default == "webui" and restore.choices == ["webui", "copy"]
    assert "not the runbook's" in (restore.help or "")


async def test_defaults_follow_the_inventory(tmp_path):
    """Scripts and Terraform are the default only where the inventory names them."""
    ws = await open_lab(tmp_path)
    try:
        for pid in ("rollback", "decommission-metallb"):
            assert (await inputs_for(ws, pid))["alias_method"] == "script"  # the lab names both scripts
            assert (await inputs_for(ws, pid))["method"] == "patch"  # ... and no Terraform stack
        ws.inventory.vars["terraform_stack"] = str(tmp_path / "infra" / "stacks" / "mailserver")
        del ws.inventory.vars["alias_add_script"]
        for pid in ("rollback", "decommission-metallb"):
            chosen = await inputs_for(ws, pid)
            assert chosen["method"] == "terraform" and chosen["alias_method"] == "webui"
    finally:
        await ws.close()


@pytest.mark.parametrize("pid,step", [("rollback", "service-patch"), ("decommission-metallb", "downgrade-patch")])
def test_the_api_patch_says_it_is_drift_from_terraform(pid, step):
    patch = steps_of(pid)[step]
    assert "drift" in patch.title.lower()
    assert "terraform apply" in patch.why
    plan = next(s for s in steps_of(pid).values() if s.local and s.local.startswith("terraform plan"))
    assert "terraform_stack" in (plan.cwd or "")


async def test_rollback_readds_the_alias_in_the_webui_when_the_script_is_not_there(tmp_path):
    """The inventory names an add-alias script that is not on this machine (the runbook has
    none): the alias is re-added in the WebUI, in the runbook's words. In a rehearsal nobody
    does that, and the fresh read of the aliases stops the run before NAT moves."""
    ws = await open_lab(tmp_path)
    try:
        ws.inventory.vars["alias_add_script"] = str(tmp_path / "infra" / "no-such-add-mailserver-alias.php")
        r = await run(ws, "rollback")
        text = r.gate_text("alias-add-manual", "manual")
        for words in ("Firewall → Aliases → Hosts", "mailserver", METALLB_IP):
            assert words in text, text
        assert not [c for c in commands(ws) if "add-mailserver-alias" in c]
        assert r.status("alias-present") == "failed", r.explain()
        assert r.status("nat-unflip") is None and nat_targets(ws) == {PFSENSE_IP}
    finally:
        await ws.close()


async def test_rollback_webui_on_request(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "rollback", alias_method="webui")
        assert "Firewall → Aliases → Hosts" in r.gate_text("alias-add-manual", "manual")
        assert r.status("alias-add") == "skipped"
    finally:
        await ws.close()


# --------------------------------------------------------------------------- 3. restore-backup


async def test_lab_reload_all_restarts_no_package(tmp_path):
    """REFERENCE.md: rc.reload_all does not restart packages; HAProxy keeps its old pools until
    `pfSsh.php playback svc restart haproxy`."""
    async with Lab(tmp_path) as lab:
        pid = lab.state.haproxy_pid
        older = (await pf(lab, "cat /cf/conf/config.xml")).stdout.replace(
            "<address>10.0.20.104</address>", "<address>10.0.20.105</address>")
        (lab.dir / "edited.xml").write_text(older)
        async with connect(lab) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(lab.dir / "edited.xml"), "/cf/conf/config.xml")
        r = await pf(lab, "rm -f /tmp/config.cache && /etc/rc.reload_all")
        assert r.exit_status == 0
        assert lab.state.haproxy_pid == pid
        state = (await pf(lab, "echo 'show servers state' | socat /tmp/haproxy.socket stdio")).stdout
        assert " 10.0.20.104 " in state and " 10.0.20.105 " not in state  # the old pools
        r = await pf(lab, "pfSsh.php playback svc restart haproxy")
        assert r.stdout.endswith("haproxy has been restarted.\n")
        state = (await pf(lab, "echo 'show servers state' | socat /tmp/haproxy.socket stdio")).stdout
        assert " 10.0.20.105 " in state


async def test_restore_backup_undo_restarts_haproxy_onto_the_previous_pools(tmp_path, need_scp):
    """The copy restore of an older backup (three workers), then a failed check: the undo puts
    the previous config.xml back AND restarts HAProxy, so it runs the previous pools again."""
    ws = await open_lab(tmp_path, faults=("probe-fails",))
    try:
        date = (dt.date.today() - dt.timedelta(days=3)).strftime("%Y%m%d")
        r = await run(ws, "restore-backup", undo_on_failure=True, method="copy", date=date)
        assert r.report.outcome != "succeeded", r.explain()
        assert r.status("haproxy-restored") == "ok"  # the restore itself took: three workers
        assert pool_nodes(ws) == ["k8s-node1", "k8s-node2", "k8s-node3", "k8s-node4"]
        undo = [e for e in r.events if isinstance(e, ev.StepStarted) and e.phase == "undo" and e.step_id == "restore"]
        assert undo and "pfSsh.php playback svc restart haproxy" in undo[0].rendered
    finally:
        await ws.close()


async def test_restore_backup_defaults_to_the_webui(tmp_path, need_scp):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "restore-backup")
        assert r.ok, r.explain()
        assert "Diagnostics → Backup & Restore" in r.gate_text("restore-webui", "manual")
        assert r.status("restore") == "skipped" and r.status("apply") == "skipped"
        assert r.status("haproxy-restored") == "ok"  # the newest backup is what runs
        copy = steps_of("restore-backup")["restore"]
        assert "not the runbook's way" in copy.title.lower()
    finally:
        await ws.close()


async def test_a_webui_restore_confirmed_but_not_done_is_caught(tmp_path, need_scp):
    """HAProxy is read afterwards: an older backup's pools must be what runs. In the lab nobody
    restores anything in the WebUI, so the run stops there."""
    ws = await open_lab(tmp_path)
    try:
        date = (dt.date.today() - dt.timedelta(days=3)).strftime("%Y%m%d")
        r = await run(ws, "restore-backup", date=date)
        assert r.status("haproxy-restored") == "failed", r.explain()
    finally:
        await ws.close()


# --------------------------------------------------------------------------- 4. ping evidence


async def test_lab_ping_prints_freebsds_summary(tmp_path):
    async with Lab(tmp_path) as lab:
        r = await pf(lab, f"ping -c 2 -t 2 {METALLB_IP}")
        assert r.exit_status == 2  # FreeBSD ping(8): sent, no reply
        assert SEED_PING_LOSS in r.stdout.splitlines()
        assert r.stdout.startswith(f"PING {METALLB_IP} ({METALLB_IP}): 56 data bytes\n")
        r = await pf(lab, f"ping -c 2 -t 2 {PFSENSE_IP}")
        assert r.exit_status == 0 and "2 packets transmitted, 2 packets received, 0.0% packet loss" in r.stdout


async def test_ip_free_guard_needs_the_ping_summary_not_any_failure(tmp_path):
    """A typo'd address makes ping fail ("cannot resolve", exit 68): that is no evidence that
    nothing answers, so the guard blocks and nothing changes."""
    ws = await open_lab(tmp_path)
    try:
        ws.inventory.vars["metallb_ip"] = "10.0.20.2O2"
        r = await run(ws, "rollback")
        assert r.status("ip-unanswered") == "ok"
        assert r.status("post-phase-6") == "blocked", r.explain()
        assert ws.lab.state.service_type == "ClusterIP"
        assert not [e for e in ws.lab.command_log.entries() if e["mutating"]]
    finally:
        await ws.close()


async def test_ip_free_guard_passes_on_the_seeds_line(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "rollback")
        assert r.status("post-phase-6") == "ok", r.explain()
        output = [e.text for e in r.events if isinstance(e, ev.OutputLine) and e.step_id == "ip-unanswered"]
        assert SEED_PING_LOSS in output
    finally:
        await ws.close()


# --------------------------------------------------------------------------- 5. client IPs


def connect_line(ip: str, pid: int) -> str:
    """Postfix postscreen's CONNECT line (src/postscreen/postscreen.c), as the seed shows it."""
    return f"postfix/smtpd-proxy25/postscreen[{pid}]: CONNECT from [{ip}]:41234 to [10.0.20.1]:25"


async def test_client_ips_are_judged_on_the_last_five_connects(tmp_path):
    """Ten minutes ago someone on the LAN tried the test port; since then, external senders.
    The runbook's `grep 'smtpd-proxy25.*CONNECT from' | tail -5` shows only the latter."""
    ws = await open_lab(tmp_path)
    try:
        ws.lab.state.extra_mail_log.append((time.time() - 600, connect_line("10.0.20.50", 7001)))
        r = await run(ws, "validate")
        assert r.ok, r.explain()
        assert r.status("client-ips-external") == "ok"
    finally:
        await ws.close()


async def test_client_ips_fail_on_a_recent_internal_connect(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        ws.lab.state.extra_mail_log.append((time.time() - 0.5, connect_line("10.0.20.50", 7002)))
        r = await run(ws, "validate")
        assert r.status("client-ips-external") == "failed", r.explain()
    finally:
        await ws.close()


def test_client_ip_step_reads_like_the_runbook():
    steps = steps_of("validate")
    assert steps["client-ips"].since is None  # the runbook greps the whole log
    check = steps["client-ips-external"].assert_
    assert "[-5:]" in check and "postscreen" in check


# --------------------------------------------------------------------------- 6. manual checks


async def test_decommission_ends_with_the_runbooks_manual_verification(tmp_path):
    ws = await open_lab(tmp_path, phase=5)
    try:
        r = await run(ws, "decommission-metallb")
        assert r.ok, r.explain()
        validated = next(i for i, e in enumerate(r.events)
                         if isinstance(e, ev.StepFinished) and e.step_id == "validate-after")
        wanted = {
            "verify-uptime-kuma": ["282", "283", "green", PFSENSE_IP],
            "verify-roundcube": ["Roundcube", "log in"],
            "verify-smoke-test": ["from outside", SEED_CONNECT, "kubectl logs"],
            "verify-crowdsec": ["CrowdSec", "cscli alerts list", "real client IPs"],
        }
        for step, words in wanted.items():
            text = r.gate_text(step, "manual")
            for word in words:
                assert word.lower() in text.lower(), f"{step}: {word!r} not in {text!r}"
            asked = next(i for i, e in enumerate(r.events) if isinstance(e, ev.GateRequested) and e.step_id == step)
            assert asked > validated, f"{step} is asked before validate-after"
        assert list(steps_of("decommission-metallb"))[-4:] == list(wanted)
    finally:
        await ws.close()


# --------------------------------------------------------------------------- 7. bootstrap gate


async def test_bootstrap_gate_says_what_the_package_does(tmp_path):
    ws = await open_lab(tmp_path)
    try:
        r = await run(ws, "bootstrap")
        assert r.ok, r.explain()
        text = r.gate_text("run-bootstrap")
        assert "reload" in text.lower() and "established" in text.lower()
        assert "restarts haproxy" not in text.lower() and "sessions drop" not in text.lower()
    finally:
        await ws.close()


# --------------------------------------------------------------------------- the README table


def test_readme_says_what_every_check_rests_on():
    readme = (PROCEDURES / "README.md").read_text(encoding="utf-8")
    rows = {tuple(cell.strip(" `") for cell in line.strip("|").split("|")[:2])
            for line in readme.splitlines() if re.match(r"\| `[a-z-]+` \| `[a-z0-9-]+` \|", line)}
    for procedure in all_procedures():
        for step in procedure.steps:
            if step.expect or step.until:
                assert (procedure.id, step.id) in rows, f"README lacks {procedure.id} {step.id}"


# --------------------------------------------------------------------------- helpers (SSH)


def connect(lab: Lab):
    return asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin", client_keys=[str(lab.key_path)],
                            known_hosts=str(lab.known_hosts_path))


async def pf(lab: Lab, command: str) -> asyncssh.SSHCompletedProcess:
    async with connect(lab) as conn:
        return await conn.run(command, check=False)
