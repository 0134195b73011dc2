"""Re-capture the HAProxy fixtures in this folder from the real Debian ``haproxy``.

Run as: ``python tests/data/captured/regenerate_haproxy.py`` (needs ``haproxy``; binds
loopback addresses 127.0.20.x, which Linux routes to lo). The shape mirrors the pfSense
edge: four ``*_ipvANY`` backends as pfSense names them, four k8s nodes each on NodePorts
30125-30128 with ``send-proxy-v2``; node3 and node4 have nothing listening.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
POOLS = {"mailserver_smtp": 30125, "mailserver_smtps": 30126, "mailserver_submission": 30127, "mailserver_imaps": 30128}
NODES = {f"k8s-node{i}": f"127.0.20.{100 + i}" for i in range(1, 5)}
UP_NODES = ("k8s-node1", "k8s-node2")


def ask(sock_path: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def main() -> None:
    listeners = []
    for node in UP_NODES:
        for port in POOLS.values():
            s = socket.socket()
            s.bind((NODES[node], port))
            s.listen(64)
            listeners.append(s)
    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/haproxy.socket"
        lines = [
            "global", f"    stats socket {sock} level admin expose-fd listeners",
            "defaults", "    mode tcp", "    timeout connect 500ms", "    timeout client 30s", "    timeout server 30s",
        ]
        for fe, port in (("smtp", 25), ("smtps", 465), ("submission", 587), ("imaps", 993), ("smtp_test", 2525)):
            pool = "mailserver_smtp" if fe == "smtp_test" else f"mailserver_{fe}"
            lines += [f"frontend mailserver_{fe}", f"    bind 127.0.20.1:{port}", f"    default_backend {pool}_ipvANY"]
        for pool, port in POOLS.items():
            lines += [f"backend {pool}_ipvANY", "    balance roundrobin"]
            lines += [f"    server {node} {addr}:{port} check inter 200 fall 1 rise 1 send-proxy-v2"
                      for node, addr in NODES.items()]
        cfg = Path(tmp, "haproxy.cfg")
        cfg.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            (HERE / "haproxy-2.6_show_servers_state.txt").write_text(ask(sock, "show servers state"))
            (HERE / "haproxy-2.6_show_stat.csv").write_text(ask(sock, "show stat"))
            (HERE / "haproxy-2.6_show_servers_state_unknown_backend.txt").write_text(ask(sock, "show servers state nope"))
            ask(sock, "set server mailserver_smtp_ipvANY/k8s-node2 state drain")
            (HERE / "haproxy-2.6_show_servers_state_drain.txt").write_text(ask(sock, "show servers state mailserver_smtp_ipvANY"))
            ask(sock, "set server mailserver_smtp_ipvANY/k8s-node2 state maint")
            (HERE / "haproxy-2.6_show_servers_state_maint.txt").write_text(ask(sock, "show servers state mailserver_smtp_ipvANY"))
        finally:
            proc.terminate()
            proc.wait()
    bad = Path(HERE, "haproxy_bad.cfg")
    for name, path in (("valid", cfg_valid()), ("invalid", bad)):
        out = subprocess.run(["haproxy", "-c", "-f", path.name], cwd=path.parent, capture_output=True, text=True)
        (HERE / f"haproxy-2.6_check_{name}.txt").write_text(out.stderr + out.stdout)
    for s in listeners:
        s.close()


def cfg_valid() -> Path:
    return Path(HERE, "haproxy_good.cfg")


if __name__ == "__main__":
    sys.exit(main())
