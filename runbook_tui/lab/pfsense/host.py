"""The lab's pfSense: a FreeBSD file tree under DIR/pfsense and the commands runbooks use.

``/cf/conf/config.xml`` is the persistent truth. Like pfSense, PHP-side tools read the config
through ``/tmp/config.cache`` when it exists, so a restored config.xml takes effect only after the
cache is removed. ``/etc/rc.reload_all`` then applies the filter side (NAT, aliases) but, as on
pfSense, restarts no package: HAProxy keeps its old pools until ``pfSsh.php playback svc restart
haproxy`` regenerates its config from config.xml (REFERENCE.md, FreeBSD / pfSense).

Commands (besides the shell builtins): ``sockstat``, ``socat`` (HAProxy runtime API on
``/tmp/haproxy.socket``), ``pfctl -sn`` / ``pfctl -t ALIAS -T show``, ``php FILE`` / ``php -l`` / ``php -r``
(real php-cli over a stand-in for pfSense's config API, see ``php_cmd``),
``pfSsh.php playback svc start|stop|restart|status haproxy``, ``/etc/rc.reload_all``,
``ping -c N -t T IP``, ``nc -z -w T IP PORT``, ``haproxy -c -f FILE``, ``sha256``, ``hostname``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

from runbook_tui.lab.pfsense import config_xml, haproxy
from runbook_tui.lab.pfsense.php_cmd import PhpCommand
from runbook_tui.lab.shell import Result, Shell, split_flags
from runbook_tui.lab.shell.builtins import b_sha256
from runbook_tui.lab.state import WAN_IF, WAN_IP, LabState, PfConfig

CONFIG = "/cf/conf/config.xml"
CACHE = "/tmp/config.cache"
SOCKET = "/tmp/haproxy.socket"
HAPROXY_CFG = "/var/etc/haproxy/haproxy.cfg"
HOSTNAME = "pfsense.viktorbarzin.lan"
SERVICE_NAMES = {25: "smtp", 465: "smtps", 587: "submission", 993: "imaps", 80: "http", 443: "https"}


class PfSense:
    """pfSense's file tree and command handlers, over the shared LabState."""

    def __init__(self, root: Path, state: LabState, php: str | None = None):
        self.root = Path(root)
        self.state = state
        self.pid_seq = 40000
        # php=None: find php-cli on PATH; "" : run without it (the recogniser).
        self.php_command = PhpCommand(self, php)

    # -- the file tree -----------------------------------------------------------------
    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def populate(self) -> None:
        for d in ("cf/conf/backup", "tmp", "root", "var/etc/haproxy", "etc", "var/log"):
            self.path(d).mkdir(parents=True, exist_ok=True)
        text = config_xml.render(self.state.running)
        self.path(CONFIG).write_text(text, encoding="utf-8")
        self.path(CACHE).write_text(text, encoding="utf-8")
        self.path("/etc/version").write_text("2.7.2-RELEASE\n", encoding="utf-8")
        self.sync_runtime()

    def sync_runtime(self) -> None:
        """The socket file exists while HAProxy runs; haproxy.cfg mirrors what it loaded."""
        sock = self.path(SOCKET)
        if self.state.haproxy_running:
            sock.touch()
            self.path(HAPROXY_CFG).write_text(haproxy.generate_cfg(self.state), encoding="utf-8")
        elif sock.exists():
            sock.unlink()

    def load_config_text(self) -> str:
        """What pfSense's PHP reads: the cache when present, else config.xml (then cached)."""
        cache = self.path(CACHE)
        if cache.exists():
            text = cache.read_text(encoding="utf-8")
            try:
                config_xml.parse(text)
                return text
            except config_xml.ConfigXMLError:
                cache.unlink()  # pfSense drops an unreadable cache and re-parses
        text = self.path(CONFIG).read_text(encoding="utf-8")
        config_xml.parse(text)  # may raise ConfigXMLError
        cache.write_text(text, encoding="utf-8")
        return text

    def load_config(self) -> PfConfig:
        return config_xml.parse(self.load_config_text())

    def config_for_edit(self) -> PfConfig:
        """The config a script edits; the running one when config.xml is unreadable."""
        try:
            return self.load_config()
        except (config_xml.ConfigXMLError, OSError):
            return PfConfig(
                list(self.state.running.frontends), list(self.state.running.pools),
                list(self.state.running.nat), list(self.state.running.aliases),
            )

    def write_config(self, cfg: PfConfig, descr: str) -> None:
        text = config_xml.render(cfg, int(time.time()), f"admin@10.0.10.50 (Local Database): {descr}")
        self.write_config_text(text)

    def write_config_text(self, text: str, backup: bool = True) -> None:
        """config.lib.inc write_config(): back up the old file, write the new one and the cache.
        A file that does not parse is kept as config.xml.bad and the old one stays, as
        pfSense's re-read after writing does."""
        try:
            config_xml.parse(text)
        except config_xml.ConfigXMLError:
            self.path("/cf/conf/config.xml.bad").write_text(text, encoding="utf-8")
            return
        old = self.path(CONFIG)
        if old.exists() and backup:
            os.replace(old, self.path(f"/cf/conf/backup/config-{int(time.time())}.xml"))
        self.path(CONFIG).write_text(text, encoding="utf-8")
        self.path(CACHE).write_text(text, encoding="utf-8")

    # -- applying ----------------------------------------------------------------------
    def apply_filter(self, cfg: PfConfig) -> None:
        self.state.running.nat = [r for r in cfg.nat]
        self.state.running.aliases = [a for a in cfg.aliases]

    def apply_haproxy(self, cfg: PfConfig, start: bool = True) -> bool:
        """haproxy_configure: load the section and (re)start; False when nothing to run."""
        self.state.running.frontends = list(cfg.frontends)
        self.state.running.pools = list(cfg.pools)
        runnable = (cfg.haproxy_section and cfg.haproxy_enabled
                    and any(f.status == "active" for f in cfg.frontends))
        if runnable and start:
            self.state.restart_haproxy()
        elif not runnable:
            self.state.stop_haproxy()
        self.sync_runtime()
        return runnable

    # -- the shell ---------------------------------------------------------------------
    def shell(self) -> Shell:
        return Shell(
            self.root,
            {
                "sockstat": self.sockstat,
                "socat": self.socat,
                "pfctl": self.pfctl,
                "php": self.php_command,
                "pfSsh.php": self.pfssh,
                "/etc/rc.reload_all": self.reload_all,
                "rc.reload_all": self.reload_all,
                "ping": self.ping,
                "nc": self.nc,
                "haproxy": self.haproxy_cmd,
                "sha256": b_sha256,
                "hostname": lambda sh, a, i: Result(HOSTNAME + "\n"),
                "uname": lambda sh, a, i: Result(
                    "FreeBSD pfsense.viktorbarzin.lan 14.0-CURRENT FreeBSD 14.0-CURRENT amd64\n"
                    if "-a" in a else "FreeBSD\n"
                ),
            },
            flavor="freebsd",
            home="/root",
            user="admin",
        )

    def sockstat(self, sh: Shell, args: list[str], stdin: str) -> Result:
        flags, _ = split_flags(args[1:])
        rows: list[tuple[str, str, int, int, str, str, str]] = []
        if self.state.haproxy_running:
            pid = self.state.haproxy_pid
            rows.append(("www", "haproxy", pid, 5, "stream", SOCKET, ""))
            fds = 7
            for f in self.state.running.frontends:
                if f.status == "active":
                    rows.append(("www", "haproxy", pid, fds, "tcp4", f"*:{f.port}", "*:*"))
                    fds += 1
        rows += [
            ("root", "php-fpm", 366, 4, "stream", "/var/run/php-fpm.socket", ""),
            ("root", "nginx", 40512, 6, "tcp4", "*:443", "*:*"),
            ("root", "nginx", 40512, 7, "tcp6", "*:443", "*:*"),
            ("root", "nginx", 40512, 8, "tcp4", "*:80", "*:*"),
            ("root", "nginx", 40512, 9, "tcp6", "*:80", "*:*"),
            ("root", "sshd", 7301, 4, "tcp6", "*:22", "*:*"),
            ("root", "sshd", 7301, 5, "tcp4", "*:22", "*:*"),
            ("root", "syslogd", 5210, 7, "udp6", "*:514", "*:*"),
            ("root", "syslogd", 5210, 8, "udp4", "*:514", "*:*"),
            ("unbound", "unbound", 8822, 3, "udp4", "*:53", "*:*"),
            ("unbound", "unbound", 8822, 4, "tcp4", "*:53", "*:*"),
        ]
        if "4" in flags and "6" not in flags:
            rows = [r for r in rows if r[4].endswith("4")]
        elif "6" in flags and "4" not in flags:
            rows = [r for r in rows if r[4].endswith("6")]
        fmt = "{:<8} {:<10} {:<5} {:<3} {:<6} {:<21} {}"
        lines = [fmt.format("USER", "COMMAND", "PID", "FD", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS")]
        for user, cmd, pid, fd, proto, local, foreign in rows:
            lines.append(fmt.format(user, cmd, pid, fd, proto, local, foreign).rstrip())
        return Result("\n".join(lines) + "\n")

    def socat(self, sh: Shell, args: list[str], stdin: str) -> Result:
        ops = [a for a in args[1:] if not a.startswith("-") or a == "-"]
        if len(ops) != 2:
            return Result(stderr=self._socat_err("exactly 2 addresses required (there are %d); use option \"-h\" for help" % len(ops)), code=1)
        addr = next((a for a in ops if a.lower() not in ("stdio", "-", "stdin", "stdout")), "")
        path = addr.split(":", 1)[1] if ":" in addr else addr
        path = sh.abspath(path)
        # As socat 1.7 does (checked against the real one): a socket nobody listens on (HAProxy
        # stopped or died; its socket file stays) is "Connection refused", exit 1; a path that
        # does not exist is opened as a file (GOPEN): created, written to, exit 0, no reply.
        if path == SOCKET and not self.state.haproxy_running:
            return Result(stderr=self._socat_err(f"UNIX-CLIENT:{path}: Connection refused"), code=1)
        if path != SOCKET:
            sh.mutate()
            sh.write(path, stdin, append=True)
            return Result()
        reply, mutated = haproxy.runtime(self.state, stdin)
        if mutated:
            sh.mutate()
        return Result(reply)

    @staticmethod
    def _socat_err(msg: str) -> str:
        return time.strftime("%Y/%m/%d %H:%M:%S") + f" socat[{random.randint(10000, 99999)}] E {msg}\n"

    def pfctl(self, sh: Shell, args: list[str], stdin: str) -> Result:
        flags, rest = split_flags(args[1:], with_value="stT")
        if flags.get("s") in ("n", "nat"):
            return Result(self._pfctl_nat())
        if "t" in flags and flags.get("T") == "show":
            alias = self.state.running.alias(flags["t"])
            if alias is None:
                return Result(stderr="pfctl: Table does not exist.\n", code=1)
            return Result("".join(f"   {a}\n" for a in alias.addresses))
        if flags.get("s") in ("i", "info"):
            return Result("Status: Enabled for 12 days 03:14:07           Debug: Urgent\n")
        return Result(stderr="pfctl: unknown command\nusage: pfctl [-AdeghMmNnOPqRrvz] ...\n", code=1)

    def _pfctl_nat(self) -> str:
        lines = [
            "no nat proto carp all",
            'nat-anchor "natearly/*" all',
            'nat-anchor "natrules/*" all',
            f"nat on {WAN_IF} inet from 10.0.20.0/24 to any -> {WAN_IP} port 1024:65535",
            "no rdr proto carp all",
            'rdr-anchor "tftp-proxy/*" all',
        ]
        for r in self.state.running.nat:
            ip = self.state.resolve(r.target)
            if ip is None:
                continue  # pf refused the ruleset line: the alias is undefined
            port = SERVICE_NAMES.get(r.port, str(r.port))
            lines.append(
                f"rdr on {WAN_IF} inet proto {r.protocol} from any to {WAN_IP} port = {port} "
                f"-> {ip} port {r.local_port}"
            )
        lines.append('rdr-anchor "miniupnpd" all')
        return "\n".join(lines) + "\n"

    # -- services ----------------------------------------------------------------------
    def pfssh(self, sh: Shell, args: list[str], stdin: str) -> Result:
        if args[1:3] != ["playback", "svc"] or len(args) < 5:
            return Result(stderr="Usage: pfSsh.php playback svc <action> <service>\n", code=1)
        action, service = args[3], args[4]
        if service != "haproxy":
            return Result(f"Could not find service {service}\n", code=1)
        if action == "status":
            word = "running" if self.state.haproxy_running else "stopped"
            return Result(f"Service haproxy is {word}.\n")
        if action not in ("start", "stop", "restart"):
            return Result(stderr=f"Unknown action: {action}\n", code=1)
        sh.mutate()
        head = f"Attempting to issue {action} to haproxy service...\n\n"
        if action == "stop":
            self.state.stop_haproxy()
            self.sync_runtime()
            return Result(head + "haproxy has been stopped.\n")
        try:
            cfg = self.load_config()
        except (config_xml.ConfigXMLError, OSError) as err:
            return Result(head, f"{err} in {CONFIG}\n", code=1)
        self.apply_haproxy(cfg)
        done = "restarted" if action == "restart" else "started"
        return Result(head + f"haproxy has been {done}.\n")

    def reload_all(self, sh: Shell, args: list[str], stdin: str) -> Result:
        """Interfaces, filter and services from config.xml; packages are not restarted, so
        HAProxy keeps running the pools it loaded last."""
        sh.mutate()
        try:
            cfg = self.load_config()
        except (config_xml.ConfigXMLError, OSError) as err:
            return Result(stderr=f"{err} in {CONFIG}\n", code=1)
        self.apply_filter(cfg)
        return Result()

    def haproxy_cmd(self, sh: Shell, args: list[str], stdin: str) -> Result:
        flags, _ = split_flags(args[1:], with_value="f")
        if "v" in flags or "vv" in args:
            return Result(f"HAProxy version {haproxy.VERSION} 2023/09/22 - https://haproxy.org/\n")
        if "c" in flags and "f" in flags:
            if not sh.resolve(flags["f"]).is_file():
                return Result(
                    stderr=f"[ALERT]    (1) : Cannot open configuration file/directory {flags['f']} : No such file or directory\n",
                    code=1,
                )
            return self._haproxy_check(sh, flags["f"])
        return Result(stderr="Usage : haproxy [-f <cfgfile|cfgdir>]* [ -vdVD ] ...\n", code=1)

    def _haproxy_check(self, sh: Shell, path: str) -> Result:
        """``haproxy -c``: the real haproxy's verdict when it is installed here (it only parses
        the file); otherwise, as an assumption, any file is valid."""
        real = shutil.which("haproxy")
        if real is None:
            return Result("Configuration file is valid\n")
        try:
            done = subprocess.run([real, "-c", "-f", str(sh.resolve(path))], capture_output=True,
                                  text=True, errors="replace", timeout=30, cwd=self.root)
        except subprocess.TimeoutExpired:
            return Result(stderr="runbook-tui lab: haproxy -c took longer than 30s.\n", code=124)
        root = str(self.root.resolve())
        return Result(done.stdout.replace(root + "/", "/"), done.stderr.replace(root + "/", "/"), done.returncode)

    # -- network probes ----------------------------------------------------------------
    def ping(self, sh: Shell, args: list[str], stdin: str) -> Result:
        flags, rest = split_flags(args[1:], with_value="ctWisS")
        if not rest:
            return Result(stderr="usage: ping [-AaDdfnoQqRrv] [-c count] ... host\n", code=64)
        ip = rest[-1]
        if not all(p.isdigit() for p in ip.split(".")) or ip.count(".") != 3:
            return Result(stderr=f"ping: cannot resolve {ip}: Unknown host\n", code=68)
        count = int(flags.get("c") or 5)
        out = [f"PING {ip} ({ip}): 56 data bytes"]
        if self.state.ip_answers_ping(ip):
            times = [round(random.uniform(0.15, 0.45), 3) for _ in range(count)]
            out += [f"64 bytes from {ip}: icmp_seq={i} ttl=64 time={t:.3f} ms" for i, t in enumerate(times)]
            avg = sum(times) / count
            dev = (sum((t - avg) ** 2 for t in times) / count) ** 0.5
            out += ["", f"--- {ip} ping statistics ---",
                    f"{count} packets transmitted, {count} packets received, 0.0% packet loss",
                    f"round-trip min/avg/max/stddev = {min(times):.3f}/{avg:.3f}/{max(times):.3f}/{dev:.3f} ms"]
            return Result("\n".join(out) + "\n")
        out += ["", f"--- {ip} ping statistics ---",
                f"{count} packets transmitted, 0 packets received, 100.0% packet loss"]
        return Result("\n".join(out) + "\n", code=2)

    def nc(self, sh: Shell, args: list[str], stdin: str) -> Result:
        flags, rest = split_flags(args[1:], with_value="w")
        if len(rest) != 2 or not rest[1].isdigit():
            return Result(stderr="usage: nc [-46DdEFhklNnrStUuvz] [-w timeout] destination [port]\n", code=1)
        ip, port = rest[0], int(rest[1])
        verbose = "v" in flags
        if self.state.tcp_open(ip, port):
            svc = SERVICE_NAMES.get(port, "*")
            return Result(stderr=f"Connection to {ip} {port} port [tcp/{svc}] succeeded!\n" if verbose else "")
        found = self.state.node_by_ip(ip)
        # A dead node does not answer at all; a live one without the port refuses.
        why = "Operation timed out" if found and not found[1].ready else "Connection refused"
        return Result(
            stderr=f"nc: connect to {ip} port {port} (tcp) failed: {why}\n" if verbose else "",
            code=1,
        )
