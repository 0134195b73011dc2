"""``k8s: logs`` with ``follow: true`` (``kubectl logs -f``), against the lab's API server: lines
arrive as the probe Job's pod writes them, the read ends when the pod ends, cancelling frees the
thread at once, and stock kubectl follows the lab the same way."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest
from kubeserver import kubectl_path, lab_kubectl

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.errors import KubeError, ProcedureError
from runbook_tui.lab import Lab
from runbook_tui.lab.kube import jobs
from runbook_tui.lab.kube.mailserver import CRONJOB
from runbook_tui.language.inputs import resolve
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.language.loader import load_procedure_text
from runbook_tui.transports.kube import KubeClient, log_follow
from runbook_tui.workspace import Workspace

NS = "mailserver"


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab") as lab:
        yield lab


@pytest.fixture
async def kube(lab: Lab):
    client = KubeClient("cluster", KubeTarget(kubeconfig=str(lab.kubeconfig_path)))
    yield client
    await client.close()


@pytest.fixture
def slow_jobs(monkeypatch: pytest.MonkeyPatch) -> float:
    """Jobs that take a second, so "before the Job ends" has room on a loaded machine."""
    monkeypatch.setattr(jobs, "JOB_DELAY", 1.0)
    return 1.0


def job_ends(lab: Lab, name: str) -> asyncio.Future[float]:
    """When the Job ``name`` is Complete or Failed (time.monotonic()), as the API server stores it."""
    ended: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def seen(event: str, rtype, obj: dict) -> None:
        conds = (obj.get("status") or {}).get("conditions") or []
        if (rtype.kind == "Job" and obj["metadata"]["name"] == name and not ended.done()
                and any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds)):
            ended.set_result(time.monotonic())

    lab.cluster.api.on_change(seen)
    return ended


def following_threads() -> list[str]:
    """Threads whose stack is in a follow's read (or its open)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        f = frame
        while f is not None:
            if f.f_code.co_name in ("follow_logs", "_read_lines"):
                found.append(names.get(ident, str(ident)))
                break
            f = f.f_back
    return found


async def no_follow_left(within: float = 1.0) -> None:
    deadline = time.monotonic() + within
    while following_threads():
        assert time.monotonic() < deadline, f"still reading: {following_threads()}"
        await asyncio.sleep(0.02)


# --- the client on the lab ------------------------------------------------------------------------


async def test_follow_shows_the_probe_as_it_runs_and_ends_with_the_job(lab: Lab, kube: KubeClient, slow_jobs) -> None:
    ended = job_ends(lab, "probe-f")
    await kube.job_from_cronjob(CRONJOB, "probe-f", namespace=NS)
    seen: list[tuple[float, str]] = []
    result = await asyncio.wait_for(kube.follow(
        "job/probe-f", namespace=NS, on_output=lambda stream, line: seen.append((time.monotonic(), line))), 10)
    returned = time.monotonic()
    assert ended.done()
    first_at, first = seen[0]
    assert " INFO sending rt-" in first and first_at < ended.result()  # shown while the probe ran
    assert returned - ended.result() < 0.1  # over as the Job is, not a poll later
    assert result.stdout.endswith("Round-trip SUCCESS in 20.3s\n") and not result.truncated
    assert [line for _, line in seen] == result.stdout.splitlines()
    assert result.stdout == await kube.logs("job/probe-f", namespace=NS)  # the whole log, as a plain read
    await no_follow_left()


async def test_follow_of_a_finished_pod_returns_its_log_at_once(lab: Lab, kube: KubeClient) -> None:
    await kube.job_from_cronjob(CRONJOB, "probe-done", namespace=NS)
    await kube.wait("job", "probe-done", "complete", namespace=NS, timeout=10)
    started = time.monotonic()
    result = await kube.follow("job/probe-done", namespace=NS, tail=2)
    assert time.monotonic() - started < 1
    assert result.stdout.splitlines()[-1].endswith("Round-trip SUCCESS in 20.3s")
    assert len(result.stdout.splitlines()) == 2


async def test_a_container_still_being_created_is_waited_for(lab: Lab, kube: KubeClient, slow_jobs,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers 400 "is waiting to start: ContainerCreating" until the container runs:
    the follow asks again, as kubectl waits up to --pod-running-timeout."""
    store = lab.cluster.store
    await kube.job_from_cronjob(CRONJOB, "probe-w", namespace=NS)
    (pod,) = store.list("v1", "Pod", NS, label_selector="job-name=probe-w")
    creating = {"phase": "Pending", "containerStatuses": [
        {"name": "roundtrip", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    store.patch("v1", "Pod", NS, pod["metadata"]["name"], {"status": creating})
    # The Job's end makes the pod Succeeded: the follow, refused until then, reads it whole.
    result = await asyncio.wait_for(kube.follow("job/probe-w", namespace=NS), 10)
    assert "Round-trip SUCCESS" in result.stdout

    await kube.job_from_cronjob(CRONJOB, "probe-stuck", namespace=NS)
    (pod,) = store.list("v1", "Pod", NS, label_selector="job-name=probe-stuck")
    store.patch("v1", "Pod", NS, pod["metadata"]["name"], {"status": creating})
    monkeypatch.setattr(log_follow, "POD_RUNNING_TIMEOUT", 0.3)
    with pytest.raises(KubeError) as caught:
        await kube.follow(f"{pod['metadata']['name']}", namespace=NS)
    assert str(caught.value) == (f"Container roundtrip of pod {NS}/{pod['metadata']['name']} did not start "
                                 "within 0.3 s (still ContainerCreating).")


async def test_a_pod_not_made_yet_is_waited_for(lab: Lab, kube: KubeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Following a controller's log right after creating it: its pod may come a moment later."""
    store = lab.cluster.store
    selector = {"matchLabels": {"app": "later"}}
    store.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "later", "namespace": NS},
               "spec": {"replicas": 1, "selector": selector,
                        "template": {"metadata": {"labels": {"app": "later"}}, "spec": {"containers": [{"name": "c"}]}}}})
    follow = asyncio.ensure_future(kube.follow("deployment/later", namespace=NS))
    await asyncio.sleep(0.6)
    assert not follow.done()
    store.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "later-1", "namespace": NS, "labels": {"app": "later"}},
               "spec": {"containers": [{"name": "c"}], "nodeName": "k8s-node1"}, "status": {"phase": "Succeeded"}})
    assert (await asyncio.wait_for(follow, 5)).stdout == ""  # the lab has no log for it: ended, empty

    monkeypatch.setattr(log_follow, "POD_RUNNING_TIMEOUT", 0.3)
    store.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "empty", "namespace": NS},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "empty"}}, "template": {}}})
    with pytest.raises(KubeError) as caught:
        await kube.follow("deployment/empty", namespace=NS)
    assert str(caught.value) == ("No pods found for deployment mailserver/empty (selector app=empty), "
                                 "after waiting 0.3 s for one.")
    started = time.monotonic()
    with pytest.raises(KubeError) as caught:  # no such owner: said at once, nothing to wait for
        await kube.follow("deployment/never", namespace=NS)
    assert str(caught.value) == "deployment mailserver/never not found." and time.monotonic() - started < 0.3


async def test_cancelling_a_follow_frees_its_thread_at_once(lab: Lab, kube: KubeClient) -> None:
    """The mailserver's pod runs on: its follow only ends when we hang up."""
    first = asyncio.Event()
    task = asyncio.ensure_future(kube.follow("deployment/mailserver", namespace=NS,
                                             on_output=lambda stream, line: first.set()))
    await asyncio.wait_for(first.wait(), 5)
    await asyncio.sleep(0.3)
    assert not task.done() and following_threads()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await no_follow_left(1.0)
    assert time.monotonic() - started < 1.0


# --- stock kubectl against the lab --------------------------------------------------------------


async def test_kubectl_logs_follow_prints_as_the_pod_writes_and_exits_with_it(lab: Lab, kube: KubeClient,
                                                                               slow_jobs) -> None:
    ended = job_ends(lab, "probe-k")
    await kube.job_from_cronjob(CRONJOB, "probe-k", namespace=NS)
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), "--kubeconfig", str(lab.kubeconfig_path), "-n", NS, "logs", "-f", "job/probe-k",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(lab.dir), "KUBECACHEDIR": str(lab.dir / "kc")})
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 10)
    assert b" INFO sending rt-" in first and not ended.done()  # printed while the probe runs
    rest = await asyncio.wait_for(proc.stdout.read(), 10)
    code = await proc.wait()
    assert code == 0, (await proc.stderr.read()).decode()
    assert time.monotonic() - ended.result() < 2  # kubectl's own exit included
    followed = (first + rest).decode()
    assert followed.endswith("Round-trip SUCCESS in 20.3s\n")
    assert (await lab_kubectl(lab, "logs", "job/probe-k"))[:2] == (0, followed)


async def test_kubectl_follows_the_running_mailserver_until_the_lab_stops(tmp_path: Path) -> None:
    lab = await Lab(tmp_path / "lab").start()
    try:
        proc = await asyncio.create_subprocess_exec(
            kubectl_path(), "--kubeconfig", str(lab.kubeconfig_path), "-n", NS, "logs", "-f", "--tail=2",
            "deployment/mailserver", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "HOME": str(lab.dir), "KUBECACHEDIR": str(lab.dir / "kc")})
        assert proc.stdout is not None
        lines = [await asyncio.wait_for(proc.stdout.readline(), 10) for _ in range(2)]
        assert all(b" mail postfix/" in line or b" mail dovecot:" in line for line in lines), lines
        await asyncio.sleep(0.6)
        assert proc.returncode is None  # the container runs on: so does its follow
    finally:
        started = time.monotonic()
        await lab.stop()
    assert time.monotonic() - started < 0.5  # an open follow does not hold the lab's stop (aiohttp would wait 1 s)
    assert await asyncio.wait_for(proc.wait(), 5) == 0  # the stream ended cleanly, as at a pod's end


# --- the procedure language ------------------------------------------------------------------


def _procedure(step: str) -> str:
    return "id: p\ntitle: P\nsteps:\n  - id: s\n" + step


def test_follow_only_on_logs_steps() -> None:
    for step, message in [
        ("    k8s: get\n    target: cluster\n    kind: Job\n    name: x\n    follow: true\n",
         "'follow' in step 's' does not apply to k8s get"),
        ("    local: echo hi\n    follow: true\n", "'follow' in step 's' only applies to k8s steps"),
    ]:
        with pytest.raises(ProcedureError) as caught:
            load_procedure_text(_procedure(step), "p.yaml")
        (problem,) = caught.value.problems
        assert (problem.file, problem.line, problem.col) == ("p.yaml", 9 if "get" in step else 6, 5)
        assert problem.message == message
    # kubectl takes -f with --tail and --since: so does a logs step.
    ok = load_procedure_text(_procedure(
        "    k8s: logs\n    target: cluster\n    name: job/x\n    follow: true\n    tail: 5\n    since: 1m\n"), "p.yaml")
    assert ok.steps[0].follow is True and ok.steps[0].tail == 5
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text(_procedure("    k8s: logs\n    target: cluster\n    name: x\n    follow: often\n"), "p.yaml")
    assert [(p.line, p.col) for p in caught.value.problems] == [(8, 13)]


# --- the engine: a step that follows ---------------------------------------------------------

FOLLOWING = """\
id: ID
title: Follow a probe
steps:
  - id: probe-create
    k8s: job-from-cronjob
    target: cluster
    namespace: mailserver
    cronjob: email-roundtrip-monitor
    name: "probe-{{ run.short_id }}"
  - id: probe-logs
    needs: [probe-create]
    k8s: logs
    target: cluster
    namespace: mailserver
    name: "job/probe-{{ run.short_id }}"
    follow: true
  - id: mail-log
    needs: []
    k8s: logs
    target: cluster
    namespace: mailserver
    name: deployment/mailserver
    follow: true
    tail: 3
    timeout: TIMEOUT
"""

DRY = """\
id: ID
title: Follow a probe in a dry run
steps:
  - id: probe-create
    k8s: job-from-cronjob
    target: cluster
    namespace: mailserver
    cronjob: email-roundtrip-monitor
    name: "probe-{{ run.short_id }}"
  - id: probe-logs
    needs: [probe-create]
    k8s: logs
    target: cluster
    namespace: mailserver
    name: "job/probe-{{ run.short_id }}"
    follow: FOLLOW
  - id: earlier-logs
    needs: []
    k8s: logs
    target: cluster
    namespace: mailserver
    name: job/earlier
    follow: FOLLOW
"""


def _engine(ws: Workspace, procedure_id: str, *, dry_run: bool = False):
    procedure = ws.procedure(procedure_id)
    events: list[ev.Event] = []
    engine = ws.engine(procedure, inputs=resolve(procedure, {}, {}), gates=AutoGates(yes=True, lab=True),
                       subscribers=[events.append], journal=False, dry_run=dry_run)
    return engine, events


async def _workspace(tmp_path: Path, **procedures: str) -> Workspace:
    """A rehearsal workspace whose procedures are ``procedures`` (id -> text with its id as ``ID``)."""
    folder = tmp_path / "procedures"
    folder.mkdir()
    for procedure_id, text in procedures.items():
        (folder / f"{procedure_id}.yaml").write_text(text.replace("ID", procedure_id), encoding="utf-8")
    return await Workspace.open(lab=True, procedures=str(folder), lab_dir=str(tmp_path / "lab"))


def _finished(events: list[ev.Event]) -> dict[str, tuple[str, str]]:
    return {e.step_id: (e.status, e.message) for e in events if isinstance(e, ev.StepFinished)}


def _output(events: list[ev.Event], step: str) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.OutputLine) and e.step_id == step]


async def test_a_following_step_ends_with_the_job_times_out_and_cancels_promptly(tmp_path: Path) -> None:
    ws = await _workspace(tmp_path, timing_out=FOLLOWING.replace("TIMEOUT", "1s"),
                          cancelled=FOLLOWING.replace("TIMEOUT", "5m"))
    try:
        engine, events = _engine(ws, "timing_out")
        started = time.monotonic()
        report = await engine.run()
        assert time.monotonic() - started < 3
        finished = _finished(events)
        assert finished["probe-logs"][0] == "ok", finished
        assert _output(events, "probe-logs")[-1].endswith("Round-trip SUCCESS in 20.3s")
        # The mailserver runs on: its follow ends at the step's timeout, its last lines shown.
        assert finished["mail-log"] == ("failed", "timed out after 1 s"), finished
        assert len(_output(events, "mail-log")) == 3
        assert report.outcome == "failed"
        await no_follow_left()

        # Cancelling the run mid-follow (Ctrl+C) ends it within a second, no reader left behind.
        engine, events = _engine(ws, "cancelled")
        run = asyncio.ensure_future(engine.run())
        deadline = time.monotonic() + 10
        while not _output(events, "mail-log"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        started = time.monotonic()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert time.monotonic() - started < 1
        await no_follow_left()
    finally:
        await ws.close()


@pytest.mark.parametrize("follow", ["true", "false"])
async def test_dry_run_treats_a_following_step_as_a_plain_read(tmp_path: Path, follow: str) -> None:
    """Dry-run only shows the Job's creation: the log read after it runs and finds no Job (not
    provable); a read of a Job that exists runs as any read-only step does, and returns."""
    ws = await _workspace(tmp_path, dry=DRY.replace("FOLLOW", follow))
    try:
        client = KubeClient("cluster", KubeTarget(kubeconfig=str(ws.lab.kubeconfig_path)))
        await client.job_from_cronjob(CRONJOB, "earlier", namespace=NS)
        await client.wait("job", "earlier", "complete", namespace=NS, timeout=10)
        await client.close()
        engine, events = _engine(ws, "dry", dry_run=True)
        await asyncio.wait_for(engine.run(), 10)
        finished = _finished(events)
        assert finished["probe-create"][0] == "would-run"
        status, message = finished["probe-logs"]
        assert status == "unproven" and "not found" in message, finished
        assert finished["earlier-logs"][0] == "ok"
        assert _output(events, "earlier-logs")[-1].endswith("Round-trip SUCCESS in 20.3s")
    finally:
        await ws.close()
