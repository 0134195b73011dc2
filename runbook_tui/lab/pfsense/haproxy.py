"""HAProxy as pfSense runs it: the generated haproxy.cfg and the runtime API's replies.

Formats follow HAProxy 2.9 (``doc/management.txt``); every runtime reply ends with an empty line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from runbook_tui.lab.state import HAFrontend, HAPool, HAServer, LabState

VERSION = "2.9-dev6-d8bc3c2"

# HCHK_STATUS_* (include/haproxy/check-t.h) and CHK_RES_*.
L4OK, L4CON = 6, 8
RES_FAILED, RES_PASSED = 2, 3
ADMIN_FMAINT, ADMIN_FDRAIN = 0x01, 0x08
RISE, FALL = 2, 3


@dataclass
class Backend:
    """A backend as HAProxy numbers it: ``uuid`` is ``be_id``, each server's number ``srv_id``."""

    pool: HAPool
    uuid: int
    forced: bool
    servers: list[tuple[HAServer, int, bool]]  # (server, srv_id, id forced in the config)

    @property
    def name(self) -> str:
        return self.pool.backend


def _number(forced: list[int | None], start: int) -> list[int]:
    """HAProxy's automatic IDs (measured on 2.6.12 against this module's test): items take the
    next number not forced elsewhere, counting on past forced items; proxies count from 2,
    servers from 1."""
    used = {f for f in forced if f is not None}
    out, nxt = [], start
    for f in forced:
        if f is None:
            while nxt in used:
                nxt += 1
            used.add(nxt)
            out.append(nxt)
        else:
            out.append(f)
        nxt = out[-1] + 1 if f is None else nxt + 1
    return out


def layout(state: LabState) -> tuple[list[HAFrontend], list[Backend]]:
    """What pfSense-pkg-haproxy's haproxy_writeconf() writes, in its order: the active frontends,
    then each pool an active frontend uses, in the order first used (unused pools are not
    written); servers with status ``inactive`` are left out; ``id`` lines only for items whose
    config carries an ``<id>`` (the WebUI's config_id() gives them; the bootstrap script does not)."""
    cfg = state.running
    fronts = [f for f in cfg.frontends if f.status == "active"]
    pools: list[HAPool] = []
    for f in fronts:
        pool = cfg.pool(f.pool)
        if pool is not None and pool not in pools:
            pools.append(pool)
    forced: list[int | None] = [None] * len(fronts)
    proxy_ids = _number(forced + [p.id for p in pools], 2)
    backends = []
    for pool, uuid in zip(pools, proxy_ids[len(fronts):]):
        servers = [s for s in pool.servers if s.status != "inactive"]
        sids = _number([s.id for s in servers], 1)
        backends.append(Backend(pool, uuid, pool.id is not None,
                                [(s, sid, s.id is not None) for s, sid in zip(servers, sids)]))
    return fronts, backends


def generate_cfg(state: LabState) -> str:
    """/var/etc/haproxy/haproxy.cfg as pfSense-pkg-haproxy's haproxy_writeconf() writes it
    (pfsense/FreeBSD-ports net/pfSense-pkg-haproxy/files/usr/local/pkg/haproxy/haproxy.inc)."""
    fronts, backends = layout(state)
    out = [
        "# Automaticaly generated, dont edit manually.",
        "# Generated on: " + time.strftime("%Y-%m-%d %H:%M"),
        "global",
        "\tmaxconn\t\t\t1000",
        "\tstats socket /tmp/haproxy.socket level admin  expose-fd listeners",
        "\tuid\t\t\t80",
        "\tgid\t\t\t80",
        "\tnbthread\t\t\t1",
        "\thard-stop-after\t\t15m",
        "\tchroot\t\t\t\t/tmp/haproxy_chroot",
        "\tdaemon",
        "\tserver-state-file /tmp/haproxy_server_state",
        "",
    ]
    for f in fronts:
        out += [
            f"frontend {f.name}",
            f"\tbind\t\t\t{f.extaddr}:{f.port} name {f.extaddr}:{f.port}   ",
            "\tmode\t\t\ttcp",
            "\tlog\t\t\tglobal",
            "\ttimeout client\t\t30000",
            f"\tdefault_backend {f.pool}_ipvANY",
            "",
        ]
    for b in backends:
        p = b.pool
        out += [f"backend {b.name}", "\tmode\t\t\ttcp"]
        if b.forced:
            out.append(f"\tid\t\t\t{p.id}")
        out += [
            "\tlog\t\t\tglobal",
            "\tbalance\t\t\troundrobin",
            "\ttimeout connect\t\t30000",
            "\ttimeout server\t\t30000",
            "\tretries\t\t\t3",
        ]
        check = f" check inter {p.checkinter or 1000}" if p.check_type != "none" else ""
        for s, _sid, forced in b.servers:
            sid = f" id {s.id}" if forced else ""
            backup = "" if s.status == "active" else s.status
            out.append(f"\tserver\t\t\t{s.name} {s.address}:{s.port}{sid}{check} {backup} weight {s.weight} {s.advanced}".rstrip())
        out.append("")
    return "\n".join(out) + "\n"


def _find(state: LabState, backend: str) -> Backend | None:
    return next((b for b in layout(state)[1] if b.name == backend), None)


def servers_state(state: LabState) -> str:
    lines = [
        "1",
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
        "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
        "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
        "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
        "srv_agent_port",
    ]
    since = int(time.time() - state.haproxy_since)
    for b in layout(state)[1]:
        for s, sid, forced in b.servers:
            admin = state.server_admin.get((b.name, s.name), 0)
            healthy = state.server_healthy(s)
            op = 2 if healthy and not admin & ADMIN_FMAINT else 0
            status, result = (L4OK, RES_PASSED) if healthy else (L4CON, RES_FAILED)
            health = RISE + FALL - 1 if healthy else 0
            check_state = 14 if admin & ADMIN_FMAINT else 6
            lines.append(
                f"{b.uuid} {b.name} {sid} {s.name} {s.address} {op} {admin} "
                f"{s.weight} {s.weight} {since} {status} {result} {health} {check_state} 0 "
                f"{int(b.forced)} {int(forced)} - {s.port} - 0 0 - - 0"
            )
    return "\n".join(lines) + "\n\n"


STAT_FIELDS = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,"
    "conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,"
    "cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,"
    "safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,srid,sess_other,h1sess,h2sess,h3sess,req_other,h1req,h2req,h3req,proto"
).split(",")


def show_stat(state: LabState) -> str:
    rows: list[dict[str, str]] = []
    since = str(int(time.time() - state.haproxy_since))
    fronts, backends = layout(state)
    for f, iid in zip(fronts, _number([None] * len(fronts), 2)):
        rows.append({"pxname": f.name, "svname": "FRONTEND", "status": "OPEN", "pid": "1",
                     "iid": str(iid), "sid": "0", "type": "0", "mode": "tcp", "slim": "1000"})
    for b in backends:
        up = 0
        for s, sid, _forced in b.servers:
            admin = state.server_admin.get((b.name, s.name), 0)
            healthy = state.server_healthy(s)
            if admin & ADMIN_FMAINT:
                status = "MAINT"
            elif not healthy:
                status = "DOWN"
            else:
                status = "DRAIN" if admin & ADMIN_FDRAIN else "UP"
            up += status in ("UP", "DRAIN")
            rows.append({
                "pxname": b.name, "svname": s.name, "status": status, "weight": str(s.weight),
                "act": "1", "bck": "0", "lastchg": since, "pid": "1", "iid": str(b.uuid),
                "sid": str(sid), "type": "2", "check_status": "L4OK" if healthy else "L4CON",
                "check_desc": "Layer4 check passed" if healthy else "Layer4 connection problem",
                "check_rise": str(RISE), "check_fall": str(FALL),
                "check_health": str(RISE + FALL - 1 if healthy else 0),
                "addr": f"{s.address}:{s.port}", "mode": "tcp", "uweight": str(s.weight),
            })
        rows.append({"pxname": b.name, "svname": "BACKEND", "status": "UP" if up else "DOWN",
                     "weight": str(up), "act": str(up), "bck": "0", "lastchg": since, "pid": "1",
                     "iid": str(b.uuid), "sid": "0", "type": "1", "mode": "tcp",
                     "algo": "roundrobin"})
    lines = ["# " + ",".join(STAT_FIELDS) + ","]
    lines += [",".join(r.get(k, "") for k in STAT_FIELDS) + "," for r in rows]
    return "\n".join(lines) + "\n\n"


def show_info(state: LabState) -> str:
    up = int(time.time() - state.haproxy_since)
    d, rem = divmod(up, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    lines = [
        "Name: HAProxy",
        f"Version: {VERSION}",
        "Release_date: 2023/09/22",
        "Nbthread: 1",
        "Nbproc: 1",
        "Process_num: 1",
        f"Pid: {state.haproxy_pid}",
        f"Uptime: {d}d {h}h{m:02d}m{s:02d}s",
        f"Uptime_sec: {up}",
        "Memmax_MB: 0",
        "PoolAlloc_MB: 0",
        "Ulimit-n: 2133",
        "Maxsock: 2133",
        "Maxconn: 1000",
        "Hard_maxconn: 1000",
        "CurrConns: 0",
        "CumConns: 1",
        "Run_queue: 0",
        "Idle_pct: 100",
        "node: pfsense.viktorbarzin.lan",
    ]
    return "\n".join(lines) + "\n\n"


def set_server(state: LabState, target: str, what: str) -> str:
    """``set server BK/SRV state ready|drain|maint``."""
    backend, _, name = target.partition("/")
    found = _find(state, backend)
    if found is None:
        return "Can't find backend.\n\n"
    if not any(s.name == name for s, _, _ in found.servers):
        return "No such server.\n\n"
    key = (backend, name)
    if what == "ready":
        state.server_admin.pop(key, None)
    elif what == "drain":
        state.server_admin[key] = ADMIN_FDRAIN
    elif what == "maint":
        state.server_admin[key] = ADMIN_FMAINT
    else:
        return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
    return "\n"


def runtime(state: LabState, request: str) -> tuple[str, bool]:
    """One runtime API request; returns (reply, mutated)."""
    out: list[str] = []
    mutated = False
    for cmd in filter(None, (c.strip() for c in request.replace("\n", ";").split(";"))):
        words = cmd.split()
        if cmd == "show servers state":
            out.append(servers_state(state))
        elif words[:2] == ["show", "servers"] and len(words) == 4 and words[2] == "state":
            pool = _find(state, words[3])
            if pool is None:
                out.append("Can't find backend.\n\n")
            else:
                full = servers_state(state).splitlines()
                keep = full[:2] + [ln for ln in full[2:] if ln.split(" ")[1:2] == [words[3]]]
                out.append("\n".join(keep) + "\n\n")
        elif words[:2] == ["show", "stat"]:
            out.append(show_stat(state))
        elif words[:2] == ["show", "info"]:
            out.append(show_info(state))
        elif words[:2] == ["set", "server"] and len(words) == 5 and words[3] == "state":
            out.append(set_server(state, words[2], words[4]))
            mutated = True
        else:
            out.append("Unknown command: '" + words[0] + "'\n\n")
    return "".join(out), mutated
