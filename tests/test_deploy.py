"""Scheduled validation in the cluster: the Containerfile, the manifests of deploy/ applied to the
lab's API with stock kubectl, and validate run the way the CronJob runs it, from a subprocess
configured by the pod's service account folder (token, ca.crt, namespace and the
KUBERNETES_SERVICE_HOST/PORT variables) against the lab's API behind TLS, with every resource
its Role does not name answered 403.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import re
import shlex
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from kubeserver import lab_kubectl
from support import ROOT

from runbook_tui.lab import Lab
from runbook_tui.language.catalog import Catalog
from runbook_tui.language.inventory_loader import load_inventory

DEPLOY = ROOT / "deploy"
NS = "mailserver"


# --------------------------------------------------------------------------- the container

def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    assert not pending, "a continuation line ends the file"
    return out


def test_containerfile_is_pinned_unprivileged_and_copies_what_exists() -> None:
    steps = instructions(ROOT / "Containerfile")
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert stages and steps[0][0] == "FROM"
    for i in stages:
        image = steps[i][1].split()[0]
        # A release, not a moving tag: python:3.11.x-slim..., or a digest.
        assert "@sha256:" in image or re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", image), image
        assert "latest" not in steps[i][1]
    final = steps[stages[-1]:]
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    (entry,) = [args for word, args in final if word == "ENTRYPOINT"]
    assert json.loads(entry) == ["runbook-tui"], "ENTRYPOINT in exec form, so signals reach the tool"
    (cmd,) = [args for word, args in final if word == "CMD"]
    assert json.loads(cmd)[:4] == ["run", "validate", "--json", "--yes"]
    for word, args in steps:
        if word in ("COPY", "ADD") and "--from=" not in args:
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        if word == "ADD":
            pytest.fail("ADD fetches and unpacks implicitly; the Containerfile uses COPY")
    # The build context is what .dockerignore lets through: exactly what is copied.
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*"
    copied = {source for word, args in steps if word == "COPY" and "--from=" not in args
              for source in shlex.split(args)[:-1]}
    assert {line[1:] for line in ignore if line.startswith("!")} == copied
    assert not any(word == "RUN" and "apt-get install" in args and "--no-install-recommends" not in args
                   for word, args in steps)


def test_what_the_containerfile_copies_builds_a_wheel_holding_the_procedures(tmp_path: Path) -> None:
    """The build stage's context, exactly as its COPY lines lay it out, builds the wheel offline."""
    import shutil
    import zipfile

    context = tmp_path / "src"
    context.mkdir()
    for word, args in instructions(ROOT / "Containerfile"):
        if word == "COPY" and "--from=" not in args:
            *sources, dest = shlex.split(args)
            for source in sources:
                target = context / (Path(source).name if dest.endswith("/") or dest == "./" else dest)
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, target)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--wheel-dir", str(tmp_path / "wheels"), "."], cwd=context,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "wheels").glob("runbook_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "runbook_tui/procedures/validate.yaml" in names
    assert any(n.endswith("entry_points.txt") for n in names)


# --------------------------------------------------------------------------- the manifests

def manifests() -> list[dict]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict:
    (doc,) = [d for d in manifests() if d["kind"] == kind]
    return doc


def test_the_cronjob_runs_validate_every_five_minutes_one_at_a_time() -> None:
    cron = by_kind("CronJob")
    assert cron["spec"]["schedule"] == "*/5 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:4] == ["run", "validate", "--json", "--yes"]
    assert not container["image"].endswith(":latest") and ":" in container["image"]
    assert pod["serviceAccountName"] == by_kind("ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    inventory = container["args"][container["args"].index("--inventory") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert inventory.startswith(mounts["inventory"] + "/")
    assert volumes["inventory"]["configMap"]["name"] == by_kind("ConfigMap")["metadata"]["name"]
    assert volumes["ssh"]["secret"]["secretName"] == by_kind("Secret")["metadata"]["name"]
    # The inventory's key files are where the Secret is mounted.
    site = yaml.safe_load(by_kind("ConfigMap")["data"][Path(inventory).name])
    ssh = site["targets"]["pfsense"]["ssh"]
    assert {Path(ssh["key"]).parent.as_posix(), Path(ssh["known_hosts"]).parent.as_posix()} == {mounts["ssh"]}
    assert {Path(ssh["key"]).name, Path(ssh["known_hosts"]).name} == set(by_kind("Secret")["stringData"])
    # No kubeconfig: the pod's service account.
    assert site["targets"]["cluster"]["kubernetes"] == {"namespace": NS}


def test_the_inventory_configmap_serves_validate(tmp_path: Path) -> None:
    """Every variable validate uses is in the ConfigMap's inventory (the procedure checks pass)."""
    path = tmp_path / "inventory.yaml"
    path.write_text(by_kind("ConfigMap")["data"]["inventory.yaml"])
    inventory = load_inventory(path)
    procedure = Catalog(ROOT / "procedures", inventory=inventory).get("validate")
    assert procedure.id == "validate"


def test_the_role_grants_what_validate_uses_and_no_more() -> None:
    role = by_kind("Role")
    grants = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
              for resource in rule["resources"] for verb in rule["verbs"]}
    assert grants == {
        ("batch", "cronjobs", "get"), ("batch", "jobs", "create"), ("batch", "jobs", "get"),
        ("batch", "jobs", "delete"), ("apps", "deployments", "get"), ("", "pods", "get"), ("", "pods", "list"),
        ("", "pods/log", "get"), ("", "pods/exec", "create"), ("", "pods/exec", "get"),
        ("coordination.k8s.io", "leases", "create"), ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "update"),
    }
    binding = by_kind("RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": by_kind("ServiceAccount")["metadata"]["name"],
                                    "namespace": NS}]


def test_the_alerts_name_metrics_the_tool_writes(tmp_path: Path) -> None:
    """Every series an alert reads is one ``--metrics`` writes (parsed with prometheus_client)."""
    from prometheus_client.parser import text_string_to_metric_families

    from runbook_tui.engine import events as ev
    from runbook_tui.headless.metrics import MetricsRecorder

    recorder = MetricsRecorder("validate")
    recorder(ev.RunStarted(procedure="validate", title="t", path="validate.yaml", mode="live", operator="o",
                           inputs={}, targets={}))
    recorder(ev.RunFinished(outcome="succeeded", message="", counts={}))
    written = {s.name for f in text_string_to_metric_families(recorder.text(0, None)) for s in f.samples}
    rules = [r for g in by_kind("PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    assert len(rules) >= 3
    for rule in rules:
        used = set(re.findall(r"\brunbook_tui_\w+", rule["expr"]))
        assert used and used <= written, (rule["alert"], used - written)
        assert 'procedure="validate"' in rule["expr"]


# --------------------------------------------------------------------------- on the lab

def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key: the cluster's CA and the API server's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def tls_front(port: int, cert: Path, key: Path) -> asyncio.Server:
    """HTTPS on a new port for the lab's plain-HTTP API: a pod reaches its API server over TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


async def kubectl(lab: Lab, *args: str) -> tuple[int, str, str]:
    return await lab_kubectl(lab, *args, namespace=None)  # kubectl discovers every group first


# What the Role names; everything else the lab serves answers 403 in the in-cluster run.
ROLE_RESOURCES = {"cronjobs", "jobs", "deployments", "pods", "pods/log", "pods/exec", "leases"}

IN_POD = """\
import sys
from kubernetes.config import incluster_config as ic
# The client reads the service account from fixed paths; a pod has them, this test has a folder.
ic.SERVICE_TOKEN_FILENAME, ic.SERVICE_CERT_FILENAME = sys.argv[1] + "/token", sys.argv[1] + "/ca.crt"
from runbook_tui.cli import main
sys.exit(main(sys.argv[2:]))
"""


async def test_deploy_applies_with_kubectl_and_validate_runs_in_cluster(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "lab")
    await lab.start()
    front = None
    try:
        code, out, err = await kubectl(lab, "apply", "--validate=false", "-f", str(DEPLOY))
        # The lab serves no OpenAPI schema for kubectl's client-side validation, hence --validate=false.
        assert code == 0, err
        created = sorted(line.split()[0] for line in out.splitlines())
        assert created == sorted([
            "configmap/runbook-tui-inventory", "cronjob.batch/runbook-tui-validate",
            "prometheusrule.monitoring.coreos.com/runbook-tui-validate", "role.rbac.authorization.k8s.io/runbook-tui-validate",
            "rolebinding.rbac.authorization.k8s.io/runbook-tui-validate", "secret/runbook-tui-ssh",
            "serviceaccount/runbook-tui-validate"]), out
        assert all(line.endswith(" created") for line in out.splitlines()), out
        code, again, err = await kubectl(lab, "apply", "--validate=false", "-f", str(DEPLOY))
        # A Secret written with stringData reads back as data, so kubectl re-sends it ("configured").
        assert code == 0 and all(line.endswith(" unchanged") or line == "secret/runbook-tui-ssh configured"
                                 for line in again.splitlines()), again + err
        code, out, err = await kubectl(lab, "get", "cronjob", "runbook-tui-validate", "-n", NS)
        assert code == 0 and "*/5 * * * *" in out, err
        secret = lab.api.store.get("v1", "Secret", NS, "runbook-tui-ssh")
        assert "PLACEHOLDER" in base64.b64decode(secret["data"]["id_ed25519"]).decode()

        # The pod: the ConfigMap's inventory, where its Secret would be the lab's key; no kubeconfig.
        configmap = lab.api.store.get("v1", "ConfigMap", NS, "runbook-tui-inventory")
        site = yaml.safe_load(configmap["data"]["inventory.yaml"])
        site["targets"]["pfsense"]["ssh"].update(host="127.0.0.1", port=lab.pfsense_port, key=str(lab.key_path),
                                                 known_hosts=str(lab.known_hosts_path))
        site["vars"] = {**site["vars"], **load_inventory(lab.inventory_path).vars}  # the lab's addresses
        pod = tmp_path / "pod"
        (pod / "home").mkdir(parents=True)
        (pod / "inventory.yaml").write_text(yaml.safe_dump(site))
        account = pod / "serviceaccount"
        account.mkdir()
        cert, key = self_signed(pod)
        (account / "ca.crt").write_bytes(cert.read_bytes())
        (account / "token").write_text("a-service-account-token")
        (account / "namespace").write_text(NS)
        front = await tls_front(lab.api_port, cert, key)
        port = front.sockets[0].getsockname()[1]
        lab.api.forbidden |= {t.plural for t in lab.api.registry.types} - ROLE_RESOURCES
        lab.api.token = "a-service-account-token"  # only the service account's token is let in
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG",)}
        env.update(HOME=str(pod / "home"), KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(port),
                   RUNBOOK_TUI_STATE_DIR=str(pod / "state"), XDG_CONFIG_HOME=str(pod / "config"))
        before = len(lab.command_log.entries())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", IN_POD, str(account), "run", "validate", "--json", "--yes",
            "--inventory", str(pod / "inventory.yaml"), cwd=pod, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        raw, err_raw = await asyncio.wait_for(proc.communicate(), 110)
        events = [json.loads(line) for line in raw.decode().splitlines()]
        assert proc.returncode == 0, raw.decode()[-3000:] + err_raw.decode()
        start, end = events[0], events[-1]
        assert start["event"] == "run_started" and start["mode"] == "live"  # not a lab: no proof in this inventory
        assert end["event"] == "run_finished" and end["outcome"] == "succeeded", end
        finished = {e["step_id"]: e["status"] for e in events if e["event"] == "step_finished"}
        assert finished["container-ports"] == "ok" and finished["probe-success"] == "ok", finished
        assert not [e for e in events if e["event"] == "notice"], "the Lease was taken in the cluster"
        # Everything it wrote, the Role allows (reads of other resources were refused with 403).
        writes = [e["command"] for e in lab.command_log.entries()[before:] if e["target"] == "cluster"]
        allowed = (r"POST /apis/batch/v1/namespaces/mailserver/jobs", r"DELETE /apis/batch/v1/namespaces/mailserver/jobs/probe-\S+",
                   r"EXEC /api/v1/namespaces/mailserver/pods/\S+/exec .*",
                   r"(POST|PUT) /apis/coordination.k8s.io/v1/namespaces/mailserver/leases(/runbook-tui)?")
        assert writes and all(any(re.fullmatch(a, w) for a in allowed) for w in writes), writes
        lease = lab.api.store.get("coordination.k8s.io/v1", "Lease", NS, "runbook-tui")
        assert lease is not None and not lease["spec"].get("holderIdentity")
    finally:
        if front is not None:
            front.close()
        await lab.stop()
