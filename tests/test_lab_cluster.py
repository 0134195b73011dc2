"""The lab's cluster: kubectl and the official client against it, its controllers, and how
the round-trip probe follows the external path that the pfSense side holds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncssh
import pytest
from kubeserver import lab_kubectl
from lab_runs import pfsense_run as pf

from runbook_tui.lab import Lab


async def kubectl(lab: Lab, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    return await lab_kubectl(lab, *args, namespace=None, stdin=stdin)


def client(lab: Lab):
    from kubernetes import config

    return config.new_client_from_config(config_file=str(lab.kubeconfig_path), context="lab")


async def pool_counts(lab: Lab) -> tuple[int, int]:
    from kubernetes import client as k

    api = k.CustomObjectsApi(client(lab))
    pool = await asyncio.to_thread(api.get_namespaced_custom_object, "metallb.io", "v1beta1",
                                   "metallb-system", "ipaddresspools", "default")
    return pool["status"]["assignedIPv4"], pool["status"]["availableIPv4"]


async def set_lb(lab: Lab, on: bool) -> None:
    from kubernetes import client as k

    core = k.CoreV1Api(client(lab))
    body = (
        {"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "10.0.20.202"}},
         "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}}
        if on else
        {"metadata": {"annotations": {"metallb.io/loadBalancerIPs": None}},
         "spec": {"type": "ClusterIP"}}
    )
    await asyncio.to_thread(core.patch_namespaced_service, "mailserver", "mailserver", body)


async def probe(lab: Lab, name: str) -> tuple[str, str]:
    """Create a Job from the CronJob like kubectl does; return (final condition, log)."""
    # kubectl's typed create POSTs protobuf, which the lab's API server does not decode; the
    # client-side dry run renders the very same Job, which "create -f -" sends as JSON.
    rc, manifest, err = await kubectl(lab, "create", "job", "--from=cronjob/email-roundtrip-monitor",
                                      name, "-n", "mailserver", "--dry-run=client", "-o", "json")
    assert rc == 0, err
    rc, out, err = await kubectl(lab, "create", "--validate=false", "-f", "-", stdin=manifest)
    assert rc == 0, err
    assert out == f"job.batch/{name} created\n"
    from kubernetes import client as k

    batch = k.BatchV1Api(client(lab))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = await asyncio.to_thread(batch.read_namespaced_job, name, "mailserver")
        done = [c.type for c in (job.status.conditions or []) if c.status == "True" and c.type in ("Complete", "Failed")]
        if done:
            rc, log, err = await kubectl(lab, "logs", f"job/{name}", "-n", "mailserver")
            assert rc == 0, err
            return done[0], log
        await asyncio.sleep(0.1)
    raise AssertionError("the probe Job never finished")


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab") as lab:
        yield lab


async def test_kubectl_and_client_see_the_steady_state(lab: Lab) -> None:
    rc, out, err = await kubectl(lab, "get", "svc", "-n", "mailserver")
    assert rc == 0, err
    row = next(line.split() for line in out.splitlines() if line.startswith("mailserver "))
    assert row[:5] == ["mailserver", "ClusterIP", "10.103.108.217", "<none>", "25/TCP,465/TCP,587/TCP,993/TCP"]
    assert "25:30125/TCP,465:30126/TCP,587:30127/TCP,993:30128/TCP" in out
    from kubernetes import client as k

    core = k.CoreV1Api(client(lab))
    nodes = await asyncio.to_thread(core.list_node)
    ips = {n.metadata.name: next(a.address for a in n.status.addresses if a.type == "InternalIP") for n in nodes.items}
    assert ips == {"k8s-master": "10.0.20.100", **{f"k8s-node{i}": f"10.0.20.10{i}" for i in range(1, 5)}}
    assert await pool_counts(lab) == (2, 19)
    rc, out, _ = await kubectl(lab, "get", "cronjob", "email-roundtrip-monitor", "-n", "mailserver", "-o", "name")
    assert out == "cronjob.batch/email-roundtrip-monitor\n"


async def test_exec_ss_and_logs(lab: Lab) -> None:
    rc, out, err = await kubectl(lab, "exec", "-n", "mailserver", "-c", "docker-mailserver",
                                 "deployment/mailserver", "--", "ss", "-ltn")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess"
    assert sorted(int(line.split()[3].rsplit(":", 1)[1]) for line in lines[1:]) == [25, 465, 587, 993, 2525, 4465, 5587, 10993]
    assert "LISTEN 0      100          0.0.0.0:2525       0.0.0.0:*          " in lines
    rc, out, err = await kubectl(lab, "exec", "-n", "mailserver", "deployment/mailserver", "--",
                                 "sh", "-c", "ss -ltn | grep -cE ':(25|2525)\\b'")
    assert (rc, out) == (0, "2\n")
    execs = [e for e in lab.command_log.entries() if e["command"].startswith("EXEC ")]
    assert [e["mutating"] for e in execs] == [False, False]
    rc, out, err = await kubectl(lab, "exec", "-n", "mailserver", "deployment/mailserver", "--", "postfixx")
    assert rc == 127 and 'exec: "postfixx": executable file not found in $PATH' in err
    rc, out, err = await kubectl(lab, "logs", "-n", "mailserver", "-c", "docker-mailserver", "deployment/mailserver")
    assert rc == 0, err
    connects = [line for line in out.splitlines() if "smtpd-proxy25" in line and "CONNECT from" in line]
    assert connects and all("to [10.0.20.1]:25" in line and "from [10.0.20." not in line for line in connects)


async def test_service_to_loadbalancer_and_back(lab: Lab) -> None:
    assert (await pf(lab, "ping -c 2 -t 2 10.0.20.202")).exit_status == 2
    await set_lb(lab, True)
    rc, out, _ = await kubectl(lab, "get", "svc", "mailserver", "-n", "mailserver", "-o",
                               "jsonpath={.spec.type} {.status.loadBalancer.ingress[0].ip}")
    assert out == "LoadBalancer 10.0.20.202"
    assert await pool_counts(lab) == (3, 18)
    r = await pf(lab, "ping -c 2 -t 2 10.0.20.202")
    assert r.exit_status == 0 and "2 packets received" in r.stdout
    await set_lb(lab, False)
    rc, out, _ = await kubectl(lab, "get", "svc", "mailserver", "-n", "mailserver", "-o", "json")
    import json

    svc = json.loads(out)
    assert svc["spec"]["type"] == "ClusterIP" and "externalTrafficPolicy" not in svc["spec"]
    assert all("nodePort" not in p for p in svc["spec"]["ports"])
    assert not svc["status"]["loadBalancer"].get("ingress")
    assert await pool_counts(lab) == (2, 19)
    assert (await pf(lab, "ping -c 1 -t 1 10.0.20.202")).exit_status == 2


async def test_probe_succeeds_then_fails_when_haproxy_stops(lab: Lab) -> None:
    condition, log = await probe(lab, "probe-ok")
    # assumption: the probe's log line is the seed's (`Round-trip SUCCESS in 20.3s`); the real
    # roundtrip.py is not in the seed, so the rest of the log is the lab's.
    assert condition == "Complete" and "Round-trip SUCCESS in 20.3s" in log
    rc, out, _ = await kubectl(lab, "wait", "--for=condition=complete", "--timeout=5s", "job/probe-ok", "-n", "mailserver")
    assert rc == 0 and "condition met" in out
    rc, out, _ = await kubectl(lab, "get", "pods", "-n", "mailserver", "-l", "job-name=probe-ok", "-o", "name")
    assert out.startswith("pod/probe-ok-")
    rc, _, _ = await kubectl(lab, "delete", "job", "probe-ok", "-n", "mailserver")
    assert rc == 0
    rc, out, _ = await kubectl(lab, "get", "pods", "-n", "mailserver", "-l", "job-name=probe-ok", "-o", "name")
    assert out == ""
    await pf(lab, "pfSsh.php playback svc stop haproxy")
    condition, log = await probe(lab, "probe-broken")
    assert condition == "Failed"
    assert "Round-trip FAILED: no reply from MX within 60s (connection refused at pfSense:25)" in log


async def test_rollback_path_after_phase_6(lab: Lab, tmp_path: Path) -> None:
    """Unflip alone sends mail to an undefined alias; alias + LoadBalancer makes it whole."""
    async with asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin",
                                client_keys=[str(lab.key_path)],
                                known_hosts=str(lab.known_hosts_path)) as conn:
        async with conn.start_sftp_client() as sftp:
            for name in ("pfsense-nat-mailserver-haproxy-unflip.php", "add-mailserver-alias.php",
                         "delete-mailserver-alias.php"):
                await sftp.put(str(lab.dir / "infra/scripts" / name), f"/tmp/{name}")
    r = await pf(lab, "php /tmp/pfsense-nat-mailserver-haproxy-unflip.php")
    assert r.stdout.startswith("nat rules retargeted: 4 -> mailserver")
    assert "port = smtp" not in (await pf(lab, "pfctl -sn")).stdout  # pf cannot resolve it
    condition, log = await probe(lab, "probe-unflipped")
    assert condition == "Failed" and "NAT target <mailserver> is not a defined alias" in log
    r = await pf(lab, "php /tmp/add-mailserver-alias.php && pfctl -t mailserver -T show")
    assert r.stdout.endswith("   10.0.20.202\n")
    condition, log = await probe(lab, "probe-no-lb")
    assert condition == "Failed" and "no route to host 10.0.20.202" in log
    await set_lb(lab, True)
    assert "port = smtp -> 10.0.20.202 port 25" in (await pf(lab, "pfctl -sn")).stdout
    condition, log = await probe(lab, "probe-rolled-back")
    assert condition == "Complete"
    r = await pf(lab, "php /tmp/delete-mailserver-alias.php")
    assert r.exit_status == 1 and "still referenced by NAT rule" in r.stdout


async def test_phase_5_starts_with_loadbalancer_and_alias(tmp_path: Path) -> None:
    async with Lab(tmp_path, phase=5) as lab:
        rc, out, _ = await kubectl(lab, "get", "svc", "mailserver", "-n", "mailserver", "-o",
                                   "jsonpath={.spec.type} {.spec.externalTrafficPolicy} {.status.loadBalancer.ingress[0].ip}")
        assert out == "LoadBalancer Local 10.0.20.202"
        assert await pool_counts(lab) == (3, 18)
        # The procedures' alias listing, run by real php over the lab's config.xml.
        r = await pf(lab, "php -r 'require_once(\"config.inc\"); foreach (config_get_path(\"aliases/alias\", [])"
                          " as $a) { echo $a[\"name\"] . \" \" . $a[\"address\"] . \"\\n\"; }' | grep mailserver")
        assert r.stdout == "mailserver 10.0.20.202\n"
        assert "port = smtp -> 10.0.20.1 port 25" in (await pf(lab, "pfctl -sn")).stdout


async def test_phase_3_routes_through_the_alias(tmp_path: Path) -> None:
    async with Lab(tmp_path, phase=3) as lab:
        assert "port = smtp -> 10.0.20.202 port 25" in (await pf(lab, "pfctl -sn")).stdout
        condition, log = await probe(lab, "probe-phase3")
        assert condition == "Complete"
        async with asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin",
                                    client_keys=[str(lab.key_path)],
                                    known_hosts=str(lab.known_hosts_path)) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(lab.dir / "infra/scripts/pfsense-nat-mailserver-haproxy-flip.php"), "/tmp/flip.php")
        r = await pf(lab, "php /tmp/flip.php")
        # Real php ran the script; its own line, then the proof is pf's fresh state.
        assert (r.exit_status, r.stdout) == (0, "nat rules retargeted: 4 -> 10.0.20.1\n")
        assert "port = smtp -> 10.0.20.1 port 25" in (await pf(lab, "pfctl -sn")).stdout
        assert "<target>10.0.20.1</target>" in (await pf(lab, "cat /cf/conf/config.xml")).stdout
        condition, log = await probe(lab, "probe-flipped")
        assert condition == "Complete" and "SUCCESS" in log
        rc, out, _ = await kubectl(lab, "logs", "-n", "mailserver", "deployment/mailserver")
        assert "smtpd-proxy25/postscreen" in out


async def test_fault_probe_fails(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["probe-fails"]) as lab:
        condition, log = await probe(lab, "probe-x")
        assert condition == "Failed" and "Round-trip FAILED" in log


async def test_fault_node_down_shows_notready(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["node-down=k8s-node4"]) as lab:
        rc, out, _ = await kubectl(lab, "get", "nodes")
        row = next(line.split() for line in out.splitlines() if line.startswith("k8s-node4"))
        assert row[1] == "NotReady"


async def test_fault_api_forbidden(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["api-forbidden=services"]) as lab:
        rc, out, err = await kubectl(lab, "get", "svc", "-n", "mailserver")
        assert rc == 1 and "Forbidden" in err and "services" in err
        rc, out, err = await kubectl(lab, "get", "pods", "-n", "mailserver")
        assert rc == 0
        from kubernetes import client as k
        from kubernetes.client.exceptions import ApiException

        with pytest.raises(ApiException) as exc:
            await asyncio.to_thread(k.CoreV1Api(client(lab)).read_namespaced_service, "mailserver", "mailserver")
        assert exc.value.status == 403


async def test_fault_latency_on_the_api(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["latency=0.25"]) as lab:
        from kubernetes import client as k

        core = k.CoreV1Api(client(lab))
        started = time.perf_counter()
        await asyncio.to_thread(core.read_namespace, "mailserver")
        assert time.perf_counter() - started >= 0.25
