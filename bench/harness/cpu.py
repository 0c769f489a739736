"""CPU share of every process in a measurement, and whether the machine was quiet.

Over one measurement (`CpuMeter()` ... `.done()`), the CPU seconds (utime + stime from /proc) of
    plugin      every process the harness started and that is not the model server: the plugins
                under test with their children, live or already ended and reaped (their time then
                counts in the harness's cutime/cstime); in an interleaved search, all stacks together
    postgres    the postmaster's process tree, including backends that ended (postmaster's cutime)
    fake_model  the model server's process
    driver      the harness process itself (daemon stand-in, psycopg2 polling, ground truth)
divided by the wall time (1.0 = one core busy), the whole machine's busy cores (/proc/stat, idle
and iowait excluded), and `other` = machine − the four. A measurement is `noisy` when `other`
exceeds the noise limit (cores; run.py's --noise-limit, default 0.10 = a tenth of one core). The
load average is recorded before and at the end (its 1-minute figure trails a short measurement)."""
import os
import time

from .driver import cpu_ticks, tree_pids

TICKS = os.sysconf("SC_CLK_TCK")
GROUPS = ("plugin", "postgres", "fake_model", "driver")


def _tree_ticks(pids) -> int:
    return sum(sum(cpu_ticks(p)) for p in pids)


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), sum(v) - v[3] - v[4]


def postmaster_pid(conn) -> int | None:
    """The PostgreSQL postmaster behind a connection (the parent of its backend), when on this machine."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    try:
        with open(f"/proc/{backend}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    except (OSError, StopIteration):
        return None


class CpuMeter:
    """CPU shares over one measurement (see the module doc)."""

    def __init__(self, model_pid: int | None, pg_pid: int | None, noise_limit: float):
        self.model_pid, self.pg_pid, self.noise_limit = model_pid, pg_pid, noise_limit
        self.load_before = [round(x, 2) for x in os.getloadavg()]
        self.t0, self.s0 = time.perf_counter(), self._snap()

    def _snap(self) -> dict:
        me = os.getpid()
        model = set(tree_pids(self.model_pid)) if self.model_pid else set()
        own, reaped = cpu_ticks(me)
        started = [p for p in tree_pids(me) if p != me and p not in model]
        total, busy = _machine()
        return {"plugin": _tree_ticks(started) + reaped, "postgres": _tree_ticks(tree_pids(self.pg_pid)) if self.pg_pid else 0,
                "fake_model": _tree_ticks(model), "driver": own, "total": total, "busy": busy}

    def done(self) -> dict:
        s1, wall = self._snap(), time.perf_counter() - self.t0
        d = {k: s1[k] - self.s0[k] for k in s1}
        cores = {k: round(d[k] / TICKS / wall, 3) if wall > 0 else 0.0 for k in GROUPS}
        if self.pg_pid is None:
            cores["postgres"] = None
        cores["machine"] = round(d["busy"] / d["total"] * os.cpu_count(), 3) if d["total"] else 0.0
        cores["other"] = round(max(0.0, cores["machine"] - sum(v or 0.0 for k, v in cores.items() if k in GROUPS)), 3)
        return {"wall_s": round(wall, 3), "cores": cores, "loadavg_before": self.load_before,
                "loadavg_after": [round(x, 2) for x in os.getloadavg()], "noise_limit_cores": self.noise_limit,
                "noisy": cores["other"] > self.noise_limit}


def cpu_model() -> str:
    """The processor's model name as the kernel reports it ("?" when it does not): figures move with it."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        return "?"
