"""docker-mailserver's log as the lab's live external path would have written it."""

from __future__ import annotations

import random
import time

from runbook_tui.lab.state import PFSENSE_IP, LabState

_EXTERNAL = ["77.32.148.21", "77.32.148.30", "209.85.218.47", "40.107.22.91", "185.70.43.17",
             "81.196.12.4", "194.87.10.203"]
_HOSTS = ["smtp-relay.mailin.fr", "mail-ej1-f47.google.com", "mail-am6eur05on2091.outbound.protection.outlook.com",
          "mail-4317.proton.ch", "unknown", "unknown", "unknown"]


def mail_log(state: LabState, since: int | None = None) -> str:
    """docker-mailserver's log: postscreen CONNECTs as the live external path delivers them."""
    rng = random.Random(1234)
    now = time.time()
    window = since if since is not None else 900
    ok, _ = state.external_path()
    via_haproxy = ok and state.resolve(next((r.target for r in state.running.nat if r.port == 25), "")) == PFSENSE_IP
    lines: list[tuple[float, str]] = []
    pid = 8000
    t = now - 900
    while t < now:
        t += rng.uniform(8, 40)
        if t >= now:
            break
        pid += rng.randint(1, 30)
        i = rng.randrange(len(_EXTERNAL))
        ip, host, port = _EXTERNAL[i], _HOSTS[i], rng.randint(30000, 65000)
        kind = rng.random()
        if kind < 0.45 and ok:
            if via_haproxy:
                lines.append((t, f"postfix/smtpd-proxy25/postscreen[{pid}]: CONNECT from [{ip}]:{port} to [10.0.20.1]:25"))
                lines.append((t + 0.1, f"postfix/smtpd-proxy25/postscreen[{pid}]: PASS OLD [{ip}]:{port}"))
            else:
                lines.append((t, f"postfix/postscreen[{pid}]: CONNECT from [{ip}]:{port} to [{state.lb_ip}]:25"))
                lines.append((t + 0.1, f"postfix/postscreen[{pid}]: PASS OLD [{ip}]:{port}"))
            lines.append((t + 0.2, f"postfix/smtpd[{pid + 1}]: connect from {host}[{ip}]"))
            qid = "".join(rng.choices("0123456789ABCDEF", k=10))
            lines.append((t + 0.6, f"postfix/smtpd[{pid + 1}]: {qid}: client={host}[{ip}]"))
            lines.append((t + 0.9, f"postfix/qmgr[412]: {qid}: from=<bounce@{host.split('.', 1)[-1]}>, size={rng.randint(2000, 90000)}, nrcpt=1 (queue active)"))
            lines.append((t + 1.2, f"postfix/smtpd[{pid + 1}]: disconnect from {host}[{ip}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"))
        elif kind < 0.7:
            node = f"10.0.20.10{rng.randint(1, 4)}"
            if via_haproxy:
                lines.append((t, f"postfix/smtpd-proxy25/postscreen[{pid}]: warning: getpeername: Transport endpoint is not connected -- dropping this connection"))
            lines.append((t + 0.3, f"dovecot: imap-login: Login: user=<roundcube@viktorbarzin.me>, method=PLAIN, rip=10.244.1.{rng.randint(2, 250)}, lip=10.244.2.37, mpid={pid}, TLS, session=<{node.replace('.', '')[-6:]}Xk>"))
        else:
            lines.append((t, f"postfix/anvil[{pid}]: statistics: max connection rate 1/60s for (smtpd:{ip}) at {time.strftime('%b %d %H:%M:%S', time.localtime(t))}"))
    lines += state.extra_mail_log
    lines.sort()
    out = []
    for ts, text in lines:
        if ts < now - window:
            continue
        out.append(time.strftime("%b %d %H:%M:%S", time.localtime(ts)) + " mail " + text)
    return "\n".join(out) + ("\n" if out else "")
