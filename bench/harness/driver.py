"""Stdio stand-in for the Dify plugin daemon's local runtime.

Spawns a plugin process, reads its stdout as JSON lines (heartbeats, session events), writes requests
as compact JSON lines with the daemon's envelope (data keys sorted, as Go marshals a map), and
timestamps per session the request write, the first stream chunk and the `end`. Many sessions may be
in flight at once. Also reads the process tree's resident memory and CPU time from /proc."""
import json
import os
import signal
import subprocess
import threading
import time
import uuid


def tree_pids(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return pids


def rss_kib(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(own, reaped children's) CPU time of one process in clock ticks (utime + stime, cutime + cstime);
    (0, 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def cpu_seconds(root: int) -> float:
    """CPU time of the live processes of a tree (their own, not that of children already ended)."""
    return sum(cpu_ticks(pid)[0] for pid in tree_pids(root)) / os.sysconf("SC_CLK_TCK")


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return -1


class Session:
    """One request and what came back for it."""

    __slots__ = ("sid", "t_send", "t_first", "t_end", "chunks", "error", "done")

    def __init__(self, sid: str):
        self.sid = sid
        self.t_send = self.t_first = self.t_end = None
        self.chunks: list[dict] = []
        self.error = None
        self.done = threading.Event()

    @property
    def latency(self) -> float:
        return self.t_end - self.t_send

    def json_result(self):
        for c in self.chunks:
            if c.get("type") == "json":
                return (c.get("message") or {}).get("json_object")
        return None


class PluginProcess:
    """A running plugin driven over stdio."""

    def __init__(self, argv: list[str], cwd: str, env: dict, log_path: str | None = None):
        self.argv = argv
        self.sessions: dict[str, Session] = {}
        self.first_heartbeat_s = None
        self.heartbeats = 0
        self._hb = threading.Event()
        self._wlock = threading.Lock()
        self._log = open(log_path, "ab") if log_path else None
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        buf = b""
        stream = self.proc.stdout
        while True:
            chunk = stream.read1(1 << 16)
            if not chunk:
                break
            now = time.perf_counter()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.strip()
                if line:
                    self._on_line(line, now)
        self._hb.set()
        for s in list(self.sessions.values()):
            s.done.set()

    def _on_line(self, line: bytes, now: float):
        try:
            ev = json.loads(line)
        except ValueError:
            if self._log:
                self._log.write(b"[stdout, not JSON] " + line + b"\n")
            return
        if not isinstance(ev, dict):
            return
        kind = ev.get("event")
        if kind == "heartbeat":
            self.heartbeats += 1
            if self.first_heartbeat_s is None:
                self.first_heartbeat_s = now - self.t_spawn
                self._hb.set()
        elif kind == "session":
            s = self.sessions.get(ev.get("session_id"))
            if s is None:
                return
            msg = ev.get("data") or {}
            mtype = msg.get("type")
            if mtype == "stream":
                if s.t_first is None:
                    s.t_first = now
                s.chunks.append(msg.get("data") or {})
            elif mtype == "error":
                if s.error is None:
                    s.error = msg.get("data")
                s.t_end = now
                s.done.set()
            elif mtype == "end":
                if s.t_end is None:
                    s.t_end = now
                s.done.set()

    def _read_stderr(self):
        for chunk in iter(lambda: self.proc.stderr.read1(1 << 16), b""):
            if self._log:
                self._log.write(chunk)
                self._log.flush()

    def wait_heartbeat(self, timeout: float = 120.0) -> float:
        if not self._hb.wait(timeout) or self.first_heartbeat_s is None:
            raise RuntimeError(f"no heartbeat from {self.argv} within {timeout}s (exit code {self.proc.poll()})")
        return self.first_heartbeat_s

    def send(self, data: dict) -> Session:
        sid = str(uuid.uuid4())
        s = Session(sid)
        self.sessions[sid] = s
        envelope = {"session_id": sid, "conversation_id": None, "message_id": None, "app_id": None,
                    "endpoint_id": None, "context": None, "event": "request",
                    "data": dict(sorted({"user_id": "bench-dify-user", **data}.items()))}
        line = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._wlock:
            s.t_send = time.perf_counter()
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        return s

    def wait(self, s: Session, timeout: float = 120.0) -> Session:
        """Waits for the `end` of a session sent earlier (several may be in flight)."""
        if not s.done.wait(timeout) or s.t_end is None:
            raise TimeoutError(f"session {s.sid} got no end within {timeout}s (exit code {self.proc.poll()})")
        self.sessions.pop(s.sid, None)
        return s

    def call(self, data: dict, timeout: float = 120.0) -> Session:
        return self.wait(self.send(data), timeout)

    @staticmethod
    def tool(credentials: dict, tool: str, params: dict, provider: str = "mem0") -> dict:
        return {"type": "tool", "action": "invoke_tool", "provider": provider, "tool": tool,
                "credential_type": "api-key", "credentials": credentials, "tool_parameters": params}

    def _signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def threads(self) -> int:
        return thread_count(self.pid)

    def stop(self):
        """Close stdin (what the daemon does), then SIGTERM / SIGKILL the process group this driver started."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(5)
        self._signal_group(signal.SIGKILL)  # anything the plugin left behind in its own session
        if self._log:
            self._log.close()
            self._log = None
