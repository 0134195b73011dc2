"""The operator's PHP scripts run for real in the lab (php-cli over a stand-in for pfSense's
config API), and a mistake in them fails in the rehearsal as PHP reports it on the firewall."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lab_runs import pfsense_run as run
from lab_runs import pfsense_upload as upload

from runbook_tui.lab import Lab
from runbook_tui.lab.pfsense import php_cmd

SERVERS_STATE = "echo 'show servers state' | socat /tmp/haproxy.socket stdio"


def need_php() -> str:
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is missing: scripts/install-test-deps installs php-cli.")
    return php


def bootstrap(lab: Lab) -> str:
    return (lab.dir / "infra/scripts/pfsense-haproxy-bootstrap.php").read_text()


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def pfsense_php(php: str, script: Path) -> subprocess.CompletedProcess[str]:
    """php as pfSense runs it (rc.php_ini_setup's error settings), straight on this machine,
    with the lab's stand-ins on the include path."""
    ini = [a for k, v in php_cmd.PFSENSE_INI.items() for a in ("-d", f"{k}={v}")]
    ini += ["-d", "log_errors=off", "-d", f"include_path=.:{php_cmd.stub_dir()}"]
    return subprocess.run([php, *ini, str(script)], capture_output=True, text=True, cwd=script.parent)


@pytest.fixture
async def lab(tmp_path: Path):
    need_php()
    async with Lab(tmp_path / "lab") as lab:
        yield lab


async def test_an_undefined_function_fails_as_php_reports_it(lab: Lab, tmp_path: Path) -> None:
    """A typo in the operator's own bootstrap: PHP's fatal error, word for word, and nothing
    applied; the same script run by php directly says the same (paths aside)."""
    broken = bootstrap(lab).replace("build_pool('mailserver_smtps'", "build_pools('mailserver_smtps'")
    line = broken.splitlines().index(next(ln for ln in broken.splitlines() if "build_pools(" in ln)) + 1
    before = (await run(lab, "cat /cf/conf/config.xml")).stdout
    await upload(lab, broken, "/tmp/pfsense-haproxy-bootstrap.php")
    r = await run(lab, "php /tmp/pfsense-haproxy-bootstrap.php")
    expected = (
        "\nFatal error: Uncaught Error: Call to undefined function build_pools() in "
        f"/tmp/pfsense-haproxy-bootstrap.php:{line}\nStack trace:\n#0 {{main}}\n  thrown in "
        f"/tmp/pfsense-haproxy-bootstrap.php on line {line}\n"
    )
    assert (r.exit_status, r.stdout, r.stderr) == (255, expected, "")
    assert (await run(lab, "cat /cf/conf/config.xml")).stdout == before
    # The same file under php directly: only the path differs.
    local = tmp_path / "pfsense-haproxy-bootstrap.php"
    local.write_text(broken)
    direct = pfsense_php(need_php(), local)
    assert (direct.returncode, direct.stdout.replace(str(local), "/tmp/pfsense-haproxy-bootstrap.php")) == (255, expected)


async def test_a_wrong_array_key_fails_as_php_reports_it(lab: Lab) -> None:
    """count() of a key that is not there: a TypeError in PHP 8, shown as pfSense shows it."""
    broken = bootstrap(lab).replace(
        "$haproxy['enable'] = 'yes';", "$haproxy['enable'] = 'yes';\n$n = count($haproxy['ha_pool']['item']);")
    line = broken.splitlines().index("$n = count($haproxy['ha_pool']['item']);") + 1
    await upload(lab, broken, "/tmp/b.php")
    r = await run(lab, "php /tmp/b.php")
    assert r.exit_status == 255 and r.stderr == ""
    assert r.stdout == (
        "\nFatal error: Uncaught TypeError: count(): Argument #1 ($value) must be of type "
        f"Countable|array, null given in /tmp/b.php:{line}\nStack trace:\n#0 {{main}}\n  thrown in "
        f"/tmp/b.php on line {line}\n"
    )


async def test_the_bootstrap_runs_for_real(lab: Lab) -> None:
    """Nodes computed in a loop (no literal to recognise): the pools come from executing it."""
    script = bootstrap(lab)
    start, end = script.index("$NODES = ["), script.index("];", script.index("$NODES = [")) + 2
    looped = script[:start] + (
        "$NODES = [];\nforeach ([1, 3] as $i) {\n    $NODES[\"k8s-node$i\"] = \"10.0.20.10$i\";\n}"
    ) + script[end:]
    await upload(lab, looped, "/tmp/pfsense-haproxy-bootstrap.php")
    r = await run(lab, "php /tmp/pfsense-haproxy-bootstrap.php")
    assert (r.exit_status, r.stdout, r.stderr) == (0, "haproxy_check_and_run rc=OK\n", "")
    servers = rows((await run(lab, SERVERS_STATE)).stdout)
    assert sorted({(s[1], s[3], s[4], s[18]) for s in servers}) == sorted(
        (f"mailserver_{svc}_ipvANY", f"k8s-node{i}", f"10.0.20.10{i}", str(port))
        for svc, port in (("smtp", 30125), ("smtps", 30126), ("submission", 30127), ("imaps", 30128))
        for i in (1, 3)
    )
    config = (await run(lab, "cat /cf/conf/config.xml")).stdout
    assert "<description><![CDATA[(system): pfsense-haproxy-bootstrap.php: mailserver frontends + backends]]></description>" in config
    assert config.count("<address>10.0.20.103</address>") == 4 and "<address>10.0.20.102</address>" not in config
    assert (await run(lab, "ls /cf/conf/backup | wc -l")).stdout.strip() == "1"


# assumption: the stand-in's haproxy_check_and_run() refuses what haproxy -c would (a missing
# default_backend, two primary frontends on one address) without running haproxy -c itself.
async def test_a_check_failure_reaches_the_script(lab: Lab) -> None:
    """A frontend naming a pool that does not exist: haproxy_check_and_run returns false, the
    script prints its FAILED line and exits 1, and HAProxy keeps its old pools."""
    broken = bootstrap(lab).replace(
        "build_frontend('mailserver_imaps', 993, 'mailserver_imaps'",
        "build_frontend('mailserver_imaps', 993, 'mailserver_imap'")
    await upload(lab, broken, "/tmp/b.php")
    before = rows((await run(lab, SERVERS_STATE)).stdout)
    r = await run(lab, "php /tmp/b.php")
    assert r.exit_status == 1
    assert r.stdout.startswith("haproxy_check_and_run rc=FAILED\nErrors found while starting haproxy<br/>")
    assert "unable to find required default_backend: &#039;mailserver_imap_ipvANY&#039;" in r.stdout
    assert rows((await run(lab, SERVERS_STATE)).stdout) == before


async def test_without_php_the_lab_says_once_it_recognises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    async with Lab(tmp_path / "lab") as lab:
        await upload(lab, bootstrap(lab), "/tmp/b.php")
        first = await run(lab, "php -l /tmp/b.php")
        assert first.stderr == php_cmd.NOT_RUNNING
        assert first.stdout == "No syntax errors detected in /tmp/b.php\n"
        second = await run(lab, "php /tmp/b.php")
        assert (second.exit_status, second.stdout, second.stderr) == (0, "haproxy_check_and_run rc=OK\n", "")


async def test_the_bootstrap_rehearsal_fails_on_the_operators_typo(tmp_path: Path) -> None:
    """The bootstrap procedure on the lab, with a typo in the operator's script: the run stops at
    run-bootstrap with PHP's own fatal error, and HAProxy keeps its pools."""
    from lab_runs import open_lab
    from lab_runs import run as run_procedure

    need_php()
    ws = await open_lab(tmp_path)
    try:
        script = Path(ws.inventory.vars["bootstrap_script"])
        script.write_text(script.read_text().replace("config_set_path('installedpackages/haproxy'",
                                                     "config_set_paths('installedpackages/haproxy'"))
        before = [p.name for p in ws.lab.state.running.pools]
        r = await run_procedure(ws, "bootstrap")
        assert not r.ok and r.status("run-bootstrap") == "failed"
        assert "Fatal error: Uncaught Error: Call to undefined function config_set_paths() in " \
               "/tmp/pfsense-haproxy-bootstrap.php:" in r.output("run-bootstrap")
        assert [p.name for p in ws.lab.state.running.pools] == before
    finally:
        await ws.close()


async def test_the_fence_cannot_be_switched_off_from_the_command_line(lab: Lab) -> None:
    """Arguments after -r or -f are the script's, never php's own options: a rehearsal must not
    be able to lift the fence (disable_functions, open_basedir) and run code on this machine.
    The arguments reach the script as real php passes them."""
    code = "var_dump(ini_get('disable_functions') !== '', ini_get('open_basedir') !== '', \\$argv);"
    r = await run(lab, f"php -r \"{code}\" -- -d disable_functions= -d open_basedir=")
    assert r.exit_status == 0, r.stdout + r.stderr
    assert r.stdout.count("bool(true)") == 2, r.stdout
    assert 'string(18) "disable_functions="' in r.stdout
    r = await run(lab, "php -r \"var_dump(function_exists('FFI::cdef') ? 1 : ini_get('ffi.enable'));\"")
    assert 'string(1) "0"' in r.stdout or "bool(false)" in r.stdout, r.stdout
    r = await run(lab, "php -r \"echo shell_exec('id -un');\"")
    assert "root" not in r.stdout and "Call to undefined function shell_exec()" in r.stdout, r.stdout
