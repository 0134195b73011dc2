"""--metrics FILE and --pushgateway URL: figures Prometheus can read, at the end of every run,
including one that could not be carried out. Parsed with prometheus_client's own parser."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from support import runbook

TWO_STEPS = """\
id: nightly
title: Nightly check
inputs:
  code: {prompt: "Exit code of the second step", default: "0"}
steps:
  - id: first
    local: sleep 0.2
    mutates: false
  - id: second
    local: exit {{ inputs.code }}
    mutates: false
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_a_run_writes_outcome_durations_and_last_success(tmp_path: Path, env):
    proc = tmp_path / "nightly.yaml"
    proc.write_text(TWO_STEPS)
    prom = tmp_path / "textfile" / "runbook.prom"
    prom.parent.mkdir()
    before = time.time()
    ok = runbook("run", str(proc), "--metrics", str(prom), cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr
    found = samples(prom.read_text())
    assert value(found, "runbook_tui_run_outcome", procedure="nightly", outcome="succeeded") == 1
    assert value(found, "runbook_tui_run_outcome", procedure="nightly", outcome="failed") == 0
    assert value(found, "runbook_tui_step_duration_seconds", procedure="nightly", step="first") >= 0.2
    assert value(found, "runbook_tui_step_status", procedure="nightly", step="second", status="ok") == 1
    assert value(found, "runbook_tui_run_duration_seconds", procedure="nightly") >= 0.2
    success = value(found, "runbook_tui_last_success_timestamp_seconds", procedure="nightly")
    assert before <= success <= time.time()
    assert oct(prom.stat().st_mode & 0o777) == "0o644"  # node-exporter reads it as another user

    failed = runbook("run", str(proc), "--set", "code=3", "--metrics", str(prom), cwd=tmp_path, env=env)
    assert failed.returncode == 1
    found = samples(prom.read_text())
    assert value(found, "runbook_tui_run_outcome", procedure="nightly", outcome="failed") == 1
    assert value(found, "runbook_tui_run_exit_code", procedure="nightly") == 1
    assert value(found, "runbook_tui_step_status", procedure="nightly", step="second", status="failed") == 1
    # The last success is still the first run's, read back from the file.
    assert value(found, "runbook_tui_last_success_timestamp_seconds", procedure="nightly") == success
    assert [p.name for p in prom.parent.iterdir()] == ["runbook.prom"]  # no temporary left behind


def test_a_run_that_could_not_be_carried_out_still_reports(tmp_path: Path, env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    (tmp_path / "inventory.yaml").write_text(
        f"targets:\n  fw:\n    ssh: {{host: 127.0.0.1, port: {port}, user: admin}}\n")
    (tmp_path / "remote.yaml").write_text(
        "id: remote\ntitle: Remote\nsteps:\n  - id: look\n    ssh: fw\n    run: uptime\n    mutates: false\n")
    prom = tmp_path / "remote.prom"
    done = runbook("--inventory", "inventory.yaml", "run", "remote.yaml", "--metrics", str(prom), cwd=tmp_path,
                   env=env)
    assert done.returncode == 4, done.stdout + done.stderr
    found = samples(prom.read_text())
    assert value(found, "runbook_tui_run_outcome", procedure="remote", outcome="could_not_run") == 1
    assert value(found, "runbook_tui_run_exit_code", procedure="remote") == 4
    assert ("runbook_tui_last_success_timestamp_seconds", (("procedure", "remote"),)) not in found


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def do_PUT(self) -> None:  # a PUT would replace the whole group, last success included
        self.send_response(405)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_resume_of_an_unknown_run_is_a_command_line_mistake(tmp_path: Path, env):
    prom = tmp_path / "resume.prom"
    done = runbook("resume", "no-such-run", "--metrics", str(prom), cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stderr
    found = samples(prom.read_text())
    assert value(found, "runbook_tui_run_outcome", procedure="unknown", outcome="invalid") == 1


def test_pushgateway_gets_the_same_figures(tmp_path: Path, env):
    proc = tmp_path / "nightly.yaml"
    proc.write_text(TWO_STEPS)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = runbook("run", str(proc), "--pushgateway", url, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert "cannot push" not in done.stderr  # the push was answered, not just sent
    finally:
        server.shutdown()
        server.server_close()  # the port refuses from now on
    ((path, kind, body),) = _Recorder.received
    assert path == "/metrics/job/runbook_tui/procedure/nightly"
    assert kind.startswith("text/plain")
    found = samples(body.decode())
    assert value(found, "runbook_tui_run_outcome", procedure="nightly", outcome="succeeded") == 1
    # A Pushgateway that is not there is a sentence, and the run's own exit code stands.
    gone = runbook("run", str(proc), "--pushgateway", url, cwd=tmp_path, env=env)
    assert gone.returncode == 0
    assert "metrics: cannot push metrics to" in gone.stderr and "Traceback" not in gone.stderr


def test_a_resumed_run_reports_under_its_procedure(tmp_path: Path, env):
    from test_resume import crash_mid_run, journal

    log, release = crash_mid_run(tmp_path, env)
    release.touch()
    run_id = journal(tmp_path).stem
    prom = tmp_path / "resumed.prom"
    done = runbook("resume", run_id, "--yes", "--metrics", str(prom), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    found = samples(prom.read_text())
    assert value(found, "runbook_tui_run_outcome", procedure="crashy", outcome="succeeded") == 1
    assert value(found, "runbook_tui_step_status", procedure="crashy", step="last", status="ok") == 1
