"""What `runbook-tui lab --help` says stock kubectl cannot do against the lab is what the real
kubectl finds, and what it says works, works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kubeserver import kubectl_path, lab_kubectl
from support import ROOT

from runbook_tui.lab import Lab


async def kubectl(lab: Lab, *args: str) -> tuple[int, str, str]:
    return await lab_kubectl(lab, *args)


def lab_help() -> str:
    done = subprocess.run([sys.executable, "-m", "runbook_tui", "lab", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


@pytest.fixture
async def lab(tmp_path: Path):
    kubectl_path()
    async with Lab(tmp_path / "lab") as lab:
        yield lab


async def test_create_job_from_cronjob_cannot_work_and_the_help_says_so(lab: Lab, tmp_path: Path) -> None:
    rc, _, err = await kubectl(lab, "create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-manual")
    assert rc == 1 and "the body of the request was in an unknown format" in err
    assert (await kubectl(lab, "get", "job", "probe-manual"))[0] == 1  # nothing was made
    text = lab_help()
    assert "create job --from=cronjob/NAME these send protobuf bodies, which the lab refuses" in text
    # The way around it that the help gives works: the CronJob's job template as YAML, applied.
    rc, out, err = await kubectl(lab, "create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-manual",
                                 "--dry-run=client", "-o", "yaml")
    assert rc == 0, err
    (tmp_path / "job.yaml").write_text(out)
    rc, out, err = await kubectl(lab, "apply", "--validate=false", "-f", str(tmp_path / "job.yaml"))
    assert (rc, out) == (0, "job.batch/probe-manual created\n"), err


@pytest.mark.parametrize("args,said,error", [
    (["create", "configmap", "c", "--from-literal=a=b"], "kubectl create job|configmap|secret|namespace",
     "unknown format"),
    (["apply", "-f", "JOB"], "need --validate=false: the lab serves no OpenAPI documents", "failed to download openapi"),
    (["scale", "deployment", "mailserver", "--replicas=1"], "kubectl scale the /scale subresource is not served",
     "could not find the requested resource"),
    (["top", "pods"], "kubectl top there is no metrics API", "Metrics API not available"),
    (["auth", "can-i", "get", "pods"], "kubectl auth can-i there is no SelfSubjectAccessReview API",
     "could not find the requested resource"),
])
async def test_each_named_limit_is_real(lab: Lab, tmp_path: Path, args: list[str], said: str, error: str) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
                   "      restartPolicy: Never\n      containers: [{name: m, image: busybox, command: [\"true\"]}]\n")
    rc, _, err = await kubectl(lab, *[str(job) if a == "JOB" else a for a in args])
    assert rc == 1 and error in err
    assert said in lab_help()
