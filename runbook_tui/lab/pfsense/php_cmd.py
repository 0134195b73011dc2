"""``php`` on the lab's pfSense: the operator's scripts run for real when php-cli is installed.

Real php runs the script against the stand-in for pfSense's config API in ``pfsense_stub/``
(``config.inc``, ``util.inc``, ``filter.inc``, ``haproxy/haproxy.inc``...), with pfSense's
php.ini error settings (``src/etc/rc.php_ini_setup``: errors displayed on stdout, only
``E_ERROR | E_PARSE`` on a RELEASE), so a mistake in the script fails here as it would on the
firewall, in PHP's own words. The config goes in as pfSense's ``$config`` array (JSON); what the
script asked for comes back as events (save the config, reload the filter, check or restart
HAProxy), which this module applies to the lab through the ``PfSense`` host once php has ended.

Without php on PATH the lab says so once and falls back to recognising the infra repo's
scripts by what they declare (``php_recognise``).

php runs on the operator's machine, so it is fenced in: ``open_basedir`` keeps its files inside
the lab's pfSense tree, the functions that start programs are disabled, and it has a time limit.
That is a fence against slips, not a sandbox against hostile code: the lab runs the operator's
own scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_tui.lab.pfsense import config_array, config_xml, php_recognise
from runbook_tui.lab.shell import Result, Shell, split_flags

if TYPE_CHECKING:
    from runbook_tui.lab.pfsense.host import PfSense

TIMEOUT = 60.0
NOT_RUNNING = (
    "runbook-tui lab: php is not installed on this machine, so the lab recognises the operator's "
    "PHP scripts by what they declare instead of running them (install php-cli to run them).\n"
)
# pfSense's php.ini (rc.php_ini_setup, RELENG_2_7_2) on a RELEASE build.
PFSENSE_INI = {
    "display_errors": "on",
    "display_startup_errors": "off",
    "log_errors": "on",
    "html_errors": "off",
    "error_reporting": "E_ERROR | E_PARSE",
    "output_buffering": "0",
    "implicit_flush": "1",
    "date.timezone": "Europe/London",
}
DISABLED = (
    "exec,passthru,shell_exec,system,proc_open,popen,pcntl_exec,pcntl_fork,dl,putenv,mail,"
    "symlink,link,chroot"
)


def stub_dir() -> Path:
    return Path(str(resources.files("runbook_tui.lab.pfsense") / "pfsense_stub"))


class PhpCommand:
    """The ``php`` handler of one lab pfSense."""

    def __init__(self, host: PfSense, php: str | None = None):
        self.host = host
        self.php = shutil.which("php") if php is None else (php or None)
        self._noted = False

    def __call__(self, sh: Shell, args: list[str], stdin: str) -> Result:
        if self.php is None:
            res = php_recognise.run(self.host, sh, args)
            if not self._noted:
                self._noted = True
                res.stderr = NOT_RUNNING + res.stderr
            return res
        return self._run(sh, args, stdin)

    # -- real php ------------------------------------------------------------------------
    def _run(self, sh: Shell, args: list[str], stdin: str) -> Result:
        assert self.php is not None
        flags, rest = split_flags(args[1:], with_value="rf")
        script = flags.get("f") or (rest.pop(0) if rest and "r" not in flags else None)
        if script is None and "r" not in flags:
            return Result(stderr="Usage: php [options] [-f] <file> [--] [args...]\n", code=1)
        if script is not None and not sh.resolve(script).is_file():
            return Result(f"Could not open input file: {script}\n", code=1)
        root = sh.root
        stubs = stub_dir()
        cwd = sh.resolve(sh.cwd)
        with tempfile.TemporaryDirectory(prefix="runbook-lab-php-") as tmp:
            exchange = Path(tmp)
            (exchange / "config.json").write_text(json.dumps(self._config_array()), encoding="utf-8")
            events = exchange / "events.jsonl"
            ini = {
                **PFSENSE_INI,
                "error_log": str(root / "tmp" / "PHP_errors.log"),
                "include_path": f".:{stubs}",
                "open_basedir": f"{root}:{stubs}:{exchange}",
                "disable_functions": DISABLED,
                "ffi.enable": "0",  # FFI would reach C functions past disable_functions
            }
            cmd = [self.php]
            for key, value in ini.items():
                cmd += ["-d", f"{key}={value}"]
            if "l" in flags:
                cmd.append("-l")
            if "r" in flags:
                cmd += ["-r", flags["r"], "--"]  # after -r (and -f) php still reads options: end them
            elif "f" in flags:
                cmd += ["-f", str(sh.resolve(script)) if script and script.startswith("/") else script or "", "--"]
            else:  # a relative path stays relative, as php shows it as given; php reads no option after it
                cmd.append(str(sh.resolve(script)) if script and script.startswith("/") else script or "")
            cmd += rest
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": "root", "HOME": "/root",
                "RUNBOOK_LAB_CONFIG": str(exchange / "config.json"),
                "RUNBOOK_LAB_EVENTS": str(events),
            }
            try:
                proc = subprocess.run(
                    cmd, input=stdin, capture_output=True, text=True, errors="replace",
                    cwd=cwd if cwd.is_dir() else root, env=env, timeout=TIMEOUT,
                )
            except subprocess.TimeoutExpired:
                return Result(stderr=f"runbook-tui lab: php ran longer than {TIMEOUT:.0f}s and was stopped.\n", code=124)
            lines = events.read_text(encoding="utf-8").splitlines() if events.exists() else []
        self._apply(sh, [json.loads(line) for line in lines if line.strip()])
        return Result(self._lab_paths(proc.stdout, root, stubs),
                      self._lab_paths(proc.stderr, root, stubs), proc.returncode)

    def _config_array(self) -> dict[str, Any]:
        """What pfSense's config.inc would load: the cache, else config.xml."""
        try:
            text = self.host.load_config_text()
        except (config_xml.ConfigXMLError, OSError):
            text = config_xml.render(self.host.config_for_edit())
        return config_array.to_array(text)

    @staticmethod
    def _lab_paths(text: str, root: Path, stubs: Path) -> str:
        """Paths as the firewall has them: the lab's tree is /, the stand-ins sit in /etc/inc."""
        text = text.replace(f"{stubs}/haproxy/", "/usr/local/pkg/haproxy/").replace(f"{stubs}/", "/etc/inc/")
        return text.replace(f"{root}/", "/").replace(str(root), "/")

    def _apply(self, sh: Shell, events: list[dict[str, Any]]) -> None:
        """What the script asked pfSense to do, in order."""
        host = self.host
        for ev in events:
            kind = ev.get("event")
            if kind == "write_config" and isinstance(ev.get("config"), dict):
                host.write_config_text(config_array.to_xml(ev["config"]), backup=bool(ev.get("backup", True)))
                sh.mutate()
            elif kind == "filter_configure":
                # The reload reads the saved config, not the script's in-memory one.
                before = (list(host.state.running.nat), list(host.state.running.aliases))
                try:
                    host.apply_filter(host.load_config())
                except (config_xml.ConfigXMLError, OSError):
                    continue
                if before != (host.state.running.nat, host.state.running.aliases):
                    sh.mutate()
            elif kind == "haproxy_check_run" and isinstance(ev.get("config"), dict):
                try:
                    cfg = config_xml.parse(config_array.to_xml(ev["config"]))
                except config_xml.ConfigXMLError:
                    continue
                host.apply_haproxy(cfg, start=bool(ev.get("reload")))
                sh.mutate()
