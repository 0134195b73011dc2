"""Jobs on the lab's API server, made by stock kubectl: the API server's defaults (selector,
pod labels) let kubectl find their pods, and what a pod does follows its template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubeserver import kubectl_path, lab_kubectl

from runbook_tui.lab import Lab


async def kubectl(lab: Lab, *args: str) -> tuple[int, str, str]:
    return await lab_kubectl(lab, *args)


def job(name: str, command: list[str], **meta: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, **meta},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox:1.36", "command": command}]}}}}


async def apply(lab: Lab, tmp_path: Path, obj: dict) -> tuple[int, str, str]:
    # --validate=false: the lab serves no OpenAPI documents for kubectl's client-side check.
    path = tmp_path / f"{obj['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return await kubectl(lab, "apply", "--validate=false", "-f", str(path))


async def wait(lab: Lab, name: str) -> str:
    rc, out, err = await kubectl(lab, "wait", f"job/{name}", "--for=jsonpath={.status.conditions[-1].type}",
                                 "--timeout=10s")
    assert rc == 0, err
    return json.loads((await kubectl(lab, "get", "job", name, "-o", "json"))[1])["status"]["conditions"][-1]["type"]


@pytest.fixture
async def lab(tmp_path: Path):
    kubectl_path()
    async with Lab(tmp_path / "lab") as lab:
        yield lab


async def test_kubectl_logs_finds_the_pod_of_an_applied_job(lab: Lab, tmp_path: Path) -> None:
    rc, out, err = await apply(lab, tmp_path, job("hello", ["echo", "hi from the job"]))
    assert (rc, out) == (0, "job.batch/hello created\n"), err
    got = json.loads((await kubectl(lab, "get", "job", "hello", "-o", "json"))[1])
    uid = got["metadata"]["uid"]
    assert got["metadata"]["generation"] == 1
    assert got["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    generated = {"job-name": "hello", "batch.kubernetes.io/job-name": "hello",
                 "controller-uid": uid, "batch.kubernetes.io/controller-uid": uid}
    assert got["spec"]["template"]["metadata"]["labels"] == generated
    assert got["metadata"]["labels"] == generated  # a Job without labels takes its template's
    assert (got["spec"]["backoffLimit"], got["spec"]["completions"], got["spec"]["parallelism"]) == (6, 1, 1)
    assert await wait(lab, "hello") == "Complete"
    assert (await kubectl(lab, "logs", "job/hello"))[:2] == (0, "hi from the job\n")
    rc, out, _ = await kubectl(lab, "get", "pods", "-l", "job-name=hello", "-o", "name")
    assert rc == 0 and out.startswith("pod/hello-")


async def test_the_pod_template_decides_not_the_name(lab: Lab, tmp_path: Path) -> None:
    """A Job named and annotated like the probe but running something else is not the probe;
    a Job with any name running the probe's script is."""
    lookalike = job("email-roundtrip-monitor-manual", ["sh", "-c", "echo checking; exit 3"],
                    annotations={"cronjob.kubernetes.io/instantiate": "manual"},
                    labels={"app": "email-roundtrip-monitor"})
    assert (await apply(lab, tmp_path, lookalike))[0] == 0
    assert await wait(lab, "email-roundtrip-monitor-manual") == "Failed"
    assert (await kubectl(lab, "logs", "job/email-roundtrip-monitor-manual"))[1] == "checking\n"
    probe = job("any-name", ["python", "/scripts/roundtrip.py"])
    assert (await apply(lab, tmp_path, probe))[0] == 0
    assert await wait(lab, "any-name") == "Complete"
    assert "Round-trip SUCCESS" in (await kubectl(lab, "logs", "job/any-name"))[1]


async def test_a_command_the_lab_does_not_fake_fails_the_job(lab: Lab, tmp_path: Path) -> None:
    assert (await apply(lab, tmp_path, job("nope", ["swaks", "--to", "x@example.org"])))[0] == 0
    assert await wait(lab, "nope") == "Failed"
    log = (await kubectl(lab, "logs", "job/nope"))[1]
    assert log.startswith("sh: 1: swaks: not found\nrunbook-tui lab: swaks: not found; this lab's shell fakes: ")


async def test_a_selector_without_manual_selector_is_refused(lab: Lab, tmp_path: Path) -> None:
    own = job("picky", ["true"])
    own["spec"]["selector"] = {"matchLabels": {"app": "picky"}}
    own["spec"]["template"]["metadata"] = {"labels": {"app": "picky"}}
    rc, _, err = await apply(lab, tmp_path, own)
    assert rc == 1
    assert 'The Job "picky" is invalid: spec.selector: Invalid value:' in err
    assert "`selector` not auto-generated" in err
    own["spec"]["manualSelector"] = True
    rc, _, err = await apply(lab, tmp_path, own)
    assert rc == 0, err
    got = json.loads((await kubectl(lab, "get", "job", "picky", "-o", "json"))[1])
    assert got["spec"]["selector"] == {"matchLabels": {"app": "picky"}}
    assert got["spec"]["template"]["metadata"]["labels"] == {"app": "picky"}
