"""Benchmark of the token service against a bare Django view, on one gunicorn worker.

    .venv/bin/python bench/run.py             # `make bench`: every scenario, ratios to the floor
    .venv/bin/python bench/run.py --growth    # `make bench-growth`: 1k/100k/1M customers, big policy

A fresh SQLite database under bench/results/ unless DATABASE_URL is set (then that database is
used as it is, after `migrate`). gunicorn (its production configuration, gunicorn.conf.py, on
one worker; production settings) is pinned to core 0 and wrk (1 thread, 16 connections) to core
1. Beside the service's own floor, a bare Django project (bench/bare_django.py) is measured under
the same configuration. Each scenario gets a warm-up, then a
measured run of BENCH_SECONDS (default 8). Any response outside 2xx is an error. The whole
sequence (floor, bare Django, every scenario) runs ROUNDS times (--rounds, default 2), and each
row reports its best round: a moment when something else slowed the machine then lowers no
scenario and no reference alone.

Exit status: 0 when every target is met, 1 when some are missed (0 with BENCH_NO_FAIL=1),
2 when the benchmark itself could not run, 130 when interrupted. Uses the standard library
only; the Django-side work runs in subprocesses (manage.py and bench/dataset.py).
"""

import argparse
import base64
import contextlib
import datetime
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA_SCRIPT = BENCH / "wrk.lua"
# The project's virtualenv; else the one running this script (e.g. a copy of the tree elsewhere).
VENV_BIN = (
    ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable).parent
)
PYTHON = str(VENV_BIN / "python")

CONNECTIONS = 16
ROUNDS = 2
WRK_THREADS = 1
WARMUP_SECONDS = 3
# Production runs behind a proxy that terminates TLS and says so; the server is told to trust it
# (TRUST_X_FORWARDED_PROTO), so the HTTPS redirect and HSTS stay on as in production.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
SERVER_CORE, LOADGEN_CORE = 0, 1
# The reference beside the floor: a project of its own with nothing but the view (bench/bare_django.py).
BARE_DJANGO = "bench.bare_django:application"
GROWTH_SIZES = (1_000, 100_000, 1_000_000)

# Minimum req/s as a fraction of the floor's req/s measured in the same run.
TARGETS = {
    "token": 0.40,
    "introspect": 0.50,
    "detail_admin": 0.50,
    "detail_sales": 0.50,
    "list50": 0.20,
    "patch": 0.30,
}


class BenchError(Exception):
    """The benchmark could not run; the message says why in one line."""


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------- small helpers


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_seconds() -> int:
    raw = os.environ.get("BENCH_SECONDS", "8")
    if not raw.isdigit() or int(raw) < 1:
        raise BenchError(f"BENCH_SECONDS must be a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def run_command(command: list[str], *, env: dict, timeout: float, what: str) -> str:
    """Run a command to completion; its stdout, or BenchError with the end of its output."""
    try:
        done = subprocess.run(  # noqa: S603  (our own commands, no shell)
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{what} failed (exit {done.returncode}):\n  " + "\n  ".join(tail))
    return done.stdout


def last_json_line(output: str, what: str) -> dict:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"{what} printed no JSON: {output[-300:]!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603  (fixed git subcommands)
        ["git", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()


def git_revision() -> str:
    try:
        rev = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{rev}{'+dirty' if dirty else ''}" if rev else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ---------------------------------------------------------------- tools


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing it with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, timeout=600, check=False).returncode != 0:  # noqa: S603
            # The package lists may be missing or old: refresh them once and try again.
            subprocess.run(["apt-get", "update", "-q"], env=env, timeout=600, check=False)  # noqa: S607
            subprocess.run(install, env=env, timeout=600, check=False)  # noqa: S603
        found = shutil.which("wrk")
        if found:
            return found
        raise BenchError("wrk is not installed and `apt-get install -y wrk` did not install it")
    raise BenchError(
        "wrk is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y wrk`) and run again."
    )


@dataclass(frozen=True)
class Pinning:
    server: list[str]
    loadgen: list[str]
    description: str


def pinning() -> Pinning:
    """taskset prefixes: server on core 0, wrk on core 1, when the machine allows it."""
    taskset = shutil.which("taskset")
    cores = os.sched_getaffinity(0)
    if taskset and {SERVER_CORE, LOADGEN_CORE} <= cores:
        return Pinning(
            [taskset, "-c", str(SERVER_CORE)],
            [taskset, "-c", str(LOADGEN_CORE)],
            f"gunicorn on core {SERVER_CORE}, wrk on core {LOADGEN_CORE}",
        )
    reason = "no taskset" if not taskset else f"cores {sorted(cores)} available"
    log(f"WARNING: not pinning ({reason}); server and load generator share the CPU, ratios are unreliable")
    return Pinning([], [], f"not pinned ({reason})")


# ---------------------------------------------------------------- database and clients


@dataclass
class Database:
    url: str
    label: str
    owned: bool  # created by this run (SQLite under bench/results/): may be thrown away


def database_for(name: str) -> Database:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        scheme = urllib.parse.urlsplit(url).scheme or "database"
        host = urllib.parse.urlsplit(url).hostname or ""
        path = urllib.parse.urlsplit(url).path.lstrip("/")
        return Database(url, f"{scheme} {host}/{path} (DATABASE_URL, used as it is)", owned=False)
    path = RESULTS / f"{name}.sqlite3"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        stale.unlink(missing_ok=True)
    return Database(f"sqlite:///{path}", f"sqlite {path.relative_to(ROOT)} (fresh)", owned=True)


def service_env(database: Database) -> dict[str, str]:
    """Production settings for every process of the run (server, manage.py, dataset)."""
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database.url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        TRUST_X_FORWARDED_PROTO="true",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CREDENTIAL_HASH_KEY", None)  # derived from SECRET_KEY, the same for the whole run
    return env


def manage(env: dict, *args: str, timeout: float = 600) -> str:
    return run_command([PYTHON, "manage.py", *args], env=env, timeout=timeout, what=f"manage.py {args[0]}")


def dataset(env: dict, *args: str, timeout: float = 900) -> dict:
    output = run_command(
        [PYTHON, "-m", "bench.dataset", *args], env=env, timeout=timeout, what=f"bench.dataset {args[0]}"
    )
    return last_json_line(output, f"bench.dataset {args[0]}")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    api_key: str

    def headers(self) -> dict[str, str]:
        """Basic authentication (RFC 6749 §2.3.1: form-encoded, then base64) and the API key."""
        pair = (
            f"{urllib.parse.quote(self.client_id, safe='')}:{urllib.parse.quote(self.client_secret, safe='')}"
        )
        return {
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
            "X-API-Key": self.api_key,
        }


def create_client(
    env: dict, name: str, role: str, *, resource_server: bool = False, skip_checks: bool = False
) -> Credentials:
    args = ["create_client", "--name", name, "--role", role]
    if resource_server:
        args.append("--resource-server")
    if skip_checks:
        args.append("--skip-checks")  # the big policy's claims name no customer field (claims.E001)
    issued = last_json_line(manage(env, *args, timeout=120), "create_client")
    return Credentials(issued["client_id"], issued["client_secret"], issued["api_key"])


# ---------------------------------------------------------------- the server


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to report (e.g. to HTTPS), not one to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


class Server:
    """gunicorn with the production configuration on one worker, started in its own process
    group and always stopped. `app` is the WSGI application; every one serves /bench/floor/."""

    def __init__(self, env: dict, log_path: Path, prefix: list[str], app: str = "tokensvc.wsgi"):
        self.env = env
        self.log_path = log_path
        self.prefix = prefix
        self.app = app
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.port = free_port()
        command = [
            *self.prefix,
            str(VENV_BIN / "gunicorn"),
            # The production configuration (gthread workers, keep-alive), on one worker.
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            self.app,
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--chdir",
            str(ROOT),
            # Its default path is shared by every gunicorn of the user: another one must not clash.
            "--no-control-socket",
        ]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        answer = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited with status {self.proc.returncode}:\n{self.log_tail()}")
            probe = urllib.request.Request(f"{self.base_url}/bench/floor/", headers=PROXY_HEADERS)  # noqa: S310
            try:
                with _NO_REDIRECTS.open(probe, timeout=2) as response:
                    if response.status == 200 and self.worker_pid():
                        return
            except urllib.error.HTTPError as error:
                answer = f"/bench/floor/ answered {error.code} {error.headers.get('Location', '')}"
            except (urllib.error.URLError, OSError) as error:
                answer = str(error)
            time.sleep(0.2)
        raise BenchError(
            f"gunicorn did not serve the floor within {timeout:.0f} s ({answer}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def worker_pid(self) -> int | None:
        """The worker: the master's child (there is exactly one)."""
        if self.proc is None:
            return None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after its closing ')'.
            parent = int(stat.rpartition(")")[2].split()[1])
            if parent == self.proc.pid:
                return int(entry.name)
        return None

    def worker_memory_kib(self) -> dict[str, int]:
        """VmHWM (peak resident set) and VmRSS of the worker, in KiB."""
        pid = self.worker_pid()
        memory = {"pid": pid or 0}
        if pid is None:
            return memory
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    memory[key] = int(value.split()[0])
        except OSError:
            pass
        return memory

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL after 10 s; never waits longer than 15 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    log(f"WARNING: gunicorn {self.proc.pid} did not stop")
        else:
            # The master is gone; make sure no orphaned worker of its group stays behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log:
            self._log.close()
        self.proc = None


def obtain_token(server: Server, client: Credentials) -> str:
    request = urllib.request.Request(  # noqa: S310  (loopback URL we built)
        f"{server.base_url}/oauth/token/",
        data=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded", **PROXY_HEADERS, **client.headers()},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())["access_token"]
    except urllib.error.HTTPError as error:
        raise BenchError(f"token request refused: {error.code} {error.read()[:300]!r}") from None


def next_link(server: Server, path: str, headers: dict[str, str]) -> str:
    """The path and query of a list page's `next` link (a cursor)."""
    request = urllib.request.Request(  # noqa: S310  (loopback URL we built)
        f"{server.base_url}{path}", headers={**PROXY_HEADERS, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            link = json.loads(response.read())["next"]
    except urllib.error.HTTPError as error:
        raise BenchError(f"GET {path} refused: {error.code} {error.read()[:300]!r}") from None
    if not link:
        raise BenchError(f"GET {path} has no next page")
    parts = urllib.parse.urlsplit(link)
    return f"{parts.path}?{parts.query}"


# ---------------------------------------------------------------- load generation


@dataclass
class Scenario:
    name: str
    path: str  # "{id}" is replaced by a customer id per request when id_range is set
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    id_range: tuple[int, int] | None = None


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    first_bad: str
    worker_pid: int
    server_cpu: float | None = None  # share of the server core used by gunicorn
    other_cpu: float | None = None  # share of the server core used by anything else
    cpu_ms: float | None = None  # gunicorn CPU time per request: steadier than req/s on a busy machine
    label: str = ""

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors


@dataclass(frozen=True)
class Load:
    """How every scenario is driven: wrk, its duration and connections, its pinning, a profiler."""

    wrk: str
    seconds: int
    connections: int
    prefix: list[str]
    py_spy: str | None = None


PROFILING = False


def profiler(args: argparse.Namespace) -> str | None:
    global PROFILING
    if not args.profile:
        return None
    PROFILING = True
    found = shutil.which("py-spy") or os.environ.get("PY_SPY")
    if not found:
        raise BenchError("--profile needs py-spy on PATH or in PY_SPY (`pip install py-spy` anywhere)")
    return found


def start_profile(load: Load, server: Server, scenario: Scenario) -> subprocess.Popen | None:
    """py-spy sampling the worker for the measured run, on the load generator's core."""
    pid = server.worker_pid()
    if not load.py_spy or pid is None:
        return None
    output = RESULTS / f"profile-{scenario.name}.txt"
    command = [
        *load.prefix,
        load.py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(load.seconds),
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def run_wrk(load: Load, server: Server, scenario: Scenario, seconds: int) -> dict:
    env = dict(os.environ)
    env.update(
        WRK_METHOD=scenario.method,
        WRK_PATH=scenario.path,
        WRK_BODY=scenario.body,
        WRK_HEADERS="\n".join(
            f"{name}: {value}" for name, value in {**PROXY_HEADERS, **scenario.headers}.items()
        ),
    )
    if scenario.id_range:
        env.update(WRK_ID_MIN=str(scenario.id_range[0]), WRK_ID_MAX=str(scenario.id_range[1]))
    command = [
        *load.prefix,
        load.wrk,
        f"--threads={WRK_THREADS}",
        f"--connections={load.connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={LUA_SCRIPT}",
        f"{server.base_url}/",
    ]
    try:
        done = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish scenario {scenario.name} in {seconds + 30} s") from None
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise BenchError(
        f"wrk printed no result for {scenario.name} (exit {done.returncode}): {done.stderr[-500:]}"
    )


def core_ticks(core: int) -> tuple[int, int]:
    """(busy, total) clock ticks of one core since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(value) for value in line.split()[1:9]]  # guest time is inside user already
            return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy
    return 0, 0


def process_ticks(pids: list[int]) -> int:
    """User + system clock ticks used so far by these processes."""
    used = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        used += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return used


def measure(load: Load, server: Server, scenario: Scenario, name: str = "", label: str = "") -> Result:
    log(f"{scenario.name}{' ' + label if label else ''}: warm-up {WARMUP_SECONDS} s, then {load.seconds} s")
    run_wrk(load, server, scenario, WARMUP_SECONDS)
    spy = start_profile(load, server, scenario)
    server_pids = [pid for pid in (server.proc.pid if server.proc else None, server.worker_pid()) if pid]
    core_before, own_before = core_ticks(SERVER_CORE), process_ticks(server_pids)
    try:
        data = run_wrk(load, server, scenario, load.seconds)
    finally:
        if spy is not None:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=5)
    core_after, own_after = core_ticks(SERVER_CORE), process_ticks(server_pids)
    elapsed = core_after[1] - core_before[1]
    own = own_after - own_before
    server_cpu = other_cpu = None
    if load.prefix and elapsed > 0:  # only meaningful when the server has the core to itself
        server_cpu = own / elapsed
        other_cpu = max(0, core_after[0] - core_before[0] - own) / elapsed
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    first_bad = ""
    if data["first_bad_status"]:
        first_bad = f"{data['first_bad_status']} {data['first_bad_body'][:160]}"
    result = Result(
        name=name or scenario.name,
        rps=data["requests"] / (data["duration_us"] / 1e6) if data["duration_us"] else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        non2xx=data["non2xx"],
        socket_errors=socket_errors,
        first_bad=first_bad,
        worker_pid=server.worker_pid() or 0,
        server_cpu=server_cpu,
        other_cpu=other_cpu,
        cpu_ms=1000 * own / os.sysconf("SC_CLK_TCK") / data["requests"] if data["requests"] else None,
        label=label,
    )
    named = f"{result.name} {label}" if label else result.name
    log(
        f"{named}: {result.rps:.1f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms,"
        f" {result.errors} errors, {measured_cells(result)[4]} CPU ms/req;"
        f" core {SERVER_CORE}: {percent(server_cpu)} gunicorn,"
        f" {percent(other_cpu)} other processes"
    )
    return result


# ---------------------------------------------------------------- reporting

NOISY = 0.05  # other processes took more than this share of the server's core: results are suspect


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


MEASURED_COLUMNS = ["req/s", "p50 ms", "p99 ms", "errors", "CPU ms/req", "srv CPU", "other CPU"]
COLUMN_NOTE = (
    "\nCPU ms/req: gunicorn's CPU time per response. srv CPU / other CPU: share of core"
    f" {SERVER_CORE} used by gunicorn / by every other process during the measured run (srv CPU well"
    " below 100% means the worker waited, e.g. on the disk)."
)


def measured_cells(r: Result) -> list[str]:
    return [
        f"{r.rps:.1f}",
        f"{r.p50_ms:.1f}",
        f"{r.p99_ms:.1f}",
        str(r.errors),
        "-" if r.cpu_ms is None else f"{r.cpu_ms:.2f}",
        percent(r.server_cpu),
        percent(r.other_cpu),
    ]


def noise_notes(results: list[Result]) -> list[str]:
    noisy = [
        f"{r.name}{' ' + r.label if r.label else ''} ({percent(r.other_cpu)})"
        for r in results
        if (r.other_cpu or 0) > NOISY
    ]
    if not noisy:
        return []
    return [
        f"- WARNING: other processes used core {SERVER_CORE} during {', '.join(noisy)}: those numbers"
        " are low by about that much; run again on a quiet machine (a database server, unpinned, may"
        " also land on that core: then part of it is the run's own work)"
    ]


def markdown_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).rjust(w) if i in right else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def error_notes(results: list[Result]) -> list[str]:
    notes = []
    for r in results:
        if r.errors:
            notes.append(
                f"- {r.name}{' ' + r.label if r.label else ''}: {r.non2xx} non-2xx of {r.requests} "
                f"responses, {r.socket_errors} socket errors; first: {r.first_bad or '-'}"
            )
    return notes


def environment_lines(
    database: Database, pin: Pinning, seconds: int, connections: int, revision: str, extra: str = ""
) -> list[str]:
    cache = "redis (REDIS_URL)" if os.environ.get("REDIS_URL") else "local memory"
    overrides = (
        f" overridden by GUNICORN_CMD_ARGS={os.environ['GUNICORN_CMD_ARGS']!r}"
        if os.environ.get("GUNICORN_CMD_ARGS")
        else ""
    )
    profiled = (
        [f"- PROFILED: py-spy shared core {LOADGEN_CORE} with wrk; compare profiles, not these numbers"]
        if PROFILING
        else []
    )
    return [
        *profiled,
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC; code at commit {revision}",
        f"- database: {database.label}; cache: {cache}{extra}",
        "- server: gunicorn with gunicorn.conf.py (gthread; 1 thread on SQLite, 4 otherwise)"
        f"{overrides}, 1 worker, DEBUG=false; {pin.description}",
        f"- load: wrk, {WRK_THREADS} thread, {connections} connections, {WARMUP_SECONDS} s warm-up"
        f" + {seconds} s per scenario; latency includes queueing behind the single worker",
        f"- machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    ]


def memory_line(memory: dict[str, int]) -> str:
    if "VmHWM" not in memory:
        return "- gunicorn worker memory: unavailable"
    return (
        f"- gunicorn worker (pid {memory['pid']}): peak RSS (VmHWM) {memory['VmHWM'] / 1024:.1f} MiB, "
        f"RSS now {memory.get('VmRSS', 0) / 1024:.1f} MiB"
    )


def publish(text: str, filename: str) -> None:
    print()
    print(text)
    (RESULTS / filename).write_text(text + "\n")
    print(f"\n(written to {(RESULTS / filename).relative_to(ROOT)})")


# ---------------------------------------------------------------- the two modes


def prepare(env: dict, database: Database, *, seed: int) -> None:
    log(f"database: {database.label}")
    log("migrate")
    manage(env, "migrate", "--noinput")
    log(f"seed_demo --count {seed}")
    manage(env, "seed_demo", "--count", str(seed))


def detail_ids(info: dict) -> tuple[tuple[int, int] | None, int]:
    """A range of ids to pick from at random, or one id, for the detail and PATCH scenarios."""
    if not info["count"]:
        raise BenchError("there are no customers to read")
    if info["contiguous"]:
        return (info["min_id"], info["max_id"]), info["min_id"]
    return None, info["min_id"]


def customer_path(id_range: tuple[int, int] | None, fixed: int) -> str:
    return "/api/v1/customers/{id}/" if id_range else f"/api/v1/customers/{fixed}/"


BARE_SCENARIO = Scenario("bare django", "/bench/floor/")


def main_scenarios(
    admin: Credentials, resource: Credentials, tokens: dict[str, str], info: dict
) -> list[Scenario]:
    id_range, fixed = detail_ids(info)
    detail = customer_path(id_range, fixed)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        Scenario("floor", "/bench/floor/"),
        Scenario(
            "token", "/oauth/token/", "POST", "grant_type=client_credentials", {**form, **admin.headers()}
        ),
        Scenario(
            "introspect",
            "/oauth/introspect/",
            "POST",
            urllib.parse.urlencode({"token": tokens["admin"]}),
            {**form, **resource.headers()},
        ),
        Scenario(
            "detail_admin", detail, headers={"Authorization": f"Bearer {tokens['admin']}"}, id_range=id_range
        ),
        Scenario(
            "detail_sales", detail, headers={"Authorization": f"Bearer {tokens['sales']}"}, id_range=id_range
        ),
        Scenario(
            "list50",
            "/api/v1/customers/?page_size=50",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        ),
        Scenario(
            "patch",
            detail,
            "PATCH",
            json.dumps({"profile": {"age": 42}}),
            {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "application/json"},
            id_range=id_range,
        ),
    ]


def rounds_by_name(results: list[Result]) -> dict[str, list[Result]]:
    """Every round of each scenario, in the order they were first measured."""
    rounds: dict[str, list[Result]] = {}
    for result in results:
        rounds.setdefault(result.name, []).append(result)
    return rounds


def best_round(rounds: list[Result]) -> Result:
    """The round that served the most requests per second: the least disturbed by the rest of
    the machine, which can only ever slow a run down."""
    return max(rounds, key=lambda result: result.rps)


def verdict(result: Result, ratio: float, target: float | None) -> str:
    if result.errors:
        return "MISS (errors)"
    if target is None:
        return "-"
    return "PASS" if ratio >= target else "MISS"


def run_main(args: argparse.Namespace, wrk: str, pin: Pinning) -> int:
    seconds = bench_seconds()
    revision = git_revision()  # before the server loads the code
    database = database_for("bench")
    env = service_env(database)
    run_id = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    server = Server(env, RESULTS / "gunicorn.log", pin.server)
    bare = Server(env, RESULTS / "gunicorn-bare.log", pin.server, app=BARE_DJANGO)
    results: list[Result] = []
    memory: dict[str, int] = {}
    load = Load(wrk, seconds, args.connections, pin.loadgen, profiler(args))
    try:
        prepare(env, database, seed=1000)
        log("create_client: admin, salesperson, resource server")
        admin = create_client(env, f"{run_id}-admin", "admin")
        sales = create_client(env, f"{run_id}-sales", "salesperson")
        resource = create_client(env, f"{run_id}-rs", "viewer", resource_server=True)
        info = dataset(env, "info")
        log(f"customers: {info['count']} (ids {info['min_id']}..{info['max_id']})")
        log("starting gunicorn: the service, and a bare Django project beside it (idle while not measured)")
        server.start()
        bare.start()
        tokens = {"admin": obtain_token(server, admin), "sales": obtain_token(server, sales)}
        wanted = set(args.scenarios.split(",")) if args.scenarios else None
        scenarios = main_scenarios(admin, resource, tokens, info)
        for number in range(1, args.rounds + 1):
            label = f"(round {number} of {args.rounds})"
            results.append(measure(load, server, scenarios[0], label=label))
            results.append(measure(load, bare, BARE_SCENARIO, label=label))
            for scenario in scenarios[1:]:
                if wanted is None or scenario.name in wanted:
                    results.append(measure(load, server, scenario, label=label))
        memory = server.worker_memory_kib()
    finally:
        bare.stop()
        server.stop()
        if not database.owned:
            try:
                dataset(env, "drop-clients", "--prefix", run_id)
            except BenchError as error:
                log(f"WARNING: could not remove this run's clients: {error}")

    rounds = rounds_by_name(results)
    floor = best_round(rounds["floor"])
    bare_rps = best_round(rounds[BARE_SCENARIO.name]).rps
    floor_cpu = floor.cpu_ms
    rows, misses = [], []
    for name, measured in rounds.items():
        r = best_round(measured)
        errors = sum(m.errors for m in measured)
        ratio = r.rps / floor.rps if floor.rps else 0.0
        target = TARGETS.get(name)
        outcome = "MISS (errors)" if errors else verdict(r, ratio, target)
        if outcome.startswith("MISS"):
            misses.append(
                f"{name} ({ratio:.2f} < {target:.2f})" if not errors else f"{name} ({errors} errors)"
            )
        rows.append(
            [
                name,
                *measured_cells(r),
                " / ".join(f"{m.rps:.0f}" for m in measured),
                f"{ratio:.2f}",
                f"{floor_cpu / r.cpu_ms:.2f}" if floor_cpu and r.cpu_ms else "-",
                f"{r.rps / bare_rps:.2f}" if bare_rps else "-",
                f">= {target:.2f}" if target is not None else "-",
                outcome,
            ]
        )
    workers = {r.worker_pid for r in results if not r.name.startswith(BARE_SCENARIO.name)}
    lines = [
        "# Benchmark: every scenario against the floor (a bare Django JsonResponse view)",
        "",
        *environment_lines(
            database, pin, seconds, args.connections, revision, f"; {info['count']} customers"
        ),
        memory_line(memory),
        "",
        markdown_table(
            [
                "scenario",
                *MEASURED_COLUMNS,
                "req/s by round",
                "ratio",
                "CPU ratio",
                "÷ bare",
                "target",
                "result",
            ],
            rows,
            right={1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
        ),
        COLUMN_NOTE,
        f"Each row is its best of {args.rounds} rounds (the most req/s; every round's req/s in"
        " 'req/s by round'), the floor's and bare Django's as well. ratio: req/s ÷ the floor's (the"
        " targets apply to it). CPU ratio: the floor's CPU ms/req ÷ this row's, the same comparison"
        " undisturbed by other load on the machine.",
        f"÷ bare: req/s ÷ the req/s of {BARE_SCENARIO.name} (bench/bare_django.py: the same view"
        " in a project of its own, without middleware), under the same gunicorn configuration.",
    ]
    notes = error_notes(results) + noise_notes(results)
    if len(workers) > 1:
        notes.append(
            f"- the gunicorn worker was replaced during the run (pids {sorted(workers)}): see the log"
        )
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", f"MISSED: {', '.join(misses)}" if misses else "All targets met."]
    publish("\n".join(lines), "last.md")
    if misses and os.environ.get("BENCH_NO_FAIL") != "1":
        print(f"\nbench: {len(misses)} target(s) missed: {', '.join(misses)}", file=sys.stderr)
        return 1
    return 0


def run_growth(args: argparse.Namespace, wrk: str, pin: Pinning) -> int:
    seconds = bench_seconds()
    revision = git_revision()  # before the server loads the code
    sizes = [n for n in GROWTH_SIZES if n <= args.max_customers] or [args.max_customers]
    database = database_for("growth")
    env = service_env(database)
    run_id = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    server = Server(env, RESULTS / "gunicorn-growth.log", pin.server)
    curve: list[tuple[str, Result]] = []
    policy_rows: list[tuple[str, Result]] = []
    loads: list[str] = []
    memory: dict[str, int] = {}
    started = time.monotonic()

    load = Load(wrk, seconds, args.connections, pin.loadgen, profiler(args))

    def bench(scenario: Scenario, label: str = "") -> Result:
        result = measure(load, server, scenario)
        result.label = label
        return result

    try:
        prepare(env, database, seed=min(1000, sizes[0]))
        admin = create_client(env, f"{run_id}-admin", "admin")
        server.start()
        admin_token = obtain_token(server, admin)
        bearer = {"Authorization": f"Bearer {admin_token}"}
        token_scenario = Scenario(
            "token",
            "/oauth/token/",
            "POST",
            "grant_type=client_credentials",
            {"Content-Type": "application/x-www-form-urlencoded", **admin.headers()},
        )
        floor = bench(Scenario("floor", "/bench/floor/"))
        policy_rows.append(("seeded (5 roles, 7 scopes, 11 claims)", bench(token_scenario, "seeded policy")))

        for size in sizes:
            info = dataset(env, "info")
            if info["count"] > size:
                loads.append(f"- {size:,} customers: skipped, the database already holds {info['count']:,}")
                continue
            if info["count"] < size:
                log(f"inserting customers up to {size:,}")
                info = dataset(env, "customers", "--target", str(size), timeout=1800)
                loads.append(
                    f"- up to {size:,} customers: {info['inserted']:,} inserted in {info['seconds']} s"
                )
            id_range, fixed = detail_ids(info)
            pages = max(1, math.ceil(info["count"] / 50))
            label = f"{info['count']:,}"
            middle = f"/api/v1/customers/?page_size=50&page={max(1, pages // 2)}"
            for scenario in (
                Scenario("detail_admin", customer_path(id_range, fixed), headers=bearer, id_range=id_range),
                Scenario("list50", "/api/v1/customers/?page_size=50", headers=bearer),
                # The page after the middle one, reached as clients do: the middle page's `next` link.
                Scenario("list50_mid", next_link(server, middle, bearer), headers=bearer),
                # The same depth by page number: SQL OFFSET, which costs more the deeper the page.
                Scenario(
                    "list50_page", f"/api/v1/customers/?page_size=50&page={pages // 2 + 1}", headers=bearer
                ),
            ):
                result = bench(scenario, label)
                curve.append((label, result))

        if not args.skip_big_policy:
            log(f"big policy: {args.roles} roles, {args.scopes} scopes, {args.claims} claims")
            big = dataset(
                env,
                "big-policy",
                "--roles",
                str(args.roles),
                "--scopes",
                str(args.scopes),
                "--claims",
                str(args.claims),
            )
            log(f"big policy created in {big['seconds']} s")
            wide = create_client(env, f"{run_id}-wide", big["widest_role"], skip_checks=True)
            wide_token_scenario = Scenario(
                "token",
                "/oauth/token/",
                "POST",
                "grant_type=client_credentials",
                {"Content-Type": "application/x-www-form-urlencoded", **wide.headers()},
            )
            size_label = f"big ({big['roles']} roles, {big['scopes']} scopes, {big['claims']} claims)"
            policy_rows.append((f"{size_label}, admin client", bench(token_scenario, "big policy, admin")))
            policy_rows.append(
                (
                    f"{size_label}, client of {big['widest_role']} ({big['scopes']} scopes)",
                    bench(wide_token_scenario, "big policy, widest role"),
                )
            )
            id_range, fixed = detail_ids(dataset(env, "info"))
            detail = bench(
                Scenario("detail_admin", customer_path(id_range, fixed), headers=bearer, id_range=id_range),
                "big policy",
            )
            policy_rows.append((f"{size_label}: detail_admin (admin token)", detail))
        memory = server.worker_memory_kib()
    finally:
        server.stop()
        if not database.owned:
            for command in (["drop-big-policy"], ["drop-clients", "--prefix", run_id]):
                try:
                    dataset(env, *command)
                except BenchError as error:
                    log(f"WARNING: cleanup {command[0]} failed: {error}")

    first: dict[str, float] = {}
    rows = []
    for label, r in curve:
        base = first.setdefault(r.name, r.rps)
        rows.append([label, r.name, *measured_cells(r), f"{r.rps / base:.2f}"])
    policy_table_rows = [
        [label, r.name, *measured_cells(r), f"{r.rps / floor.rps:.2f}"] for label, r in policy_rows
    ]
    lines = [
        "# Growth: latency as the data and the policy grow",
        "",
        *environment_lines(database, pin, seconds, args.connections, revision),
        memory_line(memory),
        f"- floor (bare Django view): {floor.rps:.1f} req/s, p50 {floor.p50_ms:.1f} ms,"
        f" p99 {floor.p99_ms:.1f} ms",
        *loads,
        "",
        "## Customers",
        "",
        markdown_table(
            ["customers", "scenario", *MEASURED_COLUMNS, "vs smallest"], rows, right={2, 3, 4, 5, 6, 7, 8, 9}
        ),
        "",
        "## Policy size (token issuance)",
        "",
        markdown_table(
            ["policy", "scenario", *MEASURED_COLUMNS, "vs floor"],
            policy_table_rows,
            right={2, 3, 4, 5, 6, 7, 8, 9},
        ),
        COLUMN_NOTE,
    ]
    everything = [r for _, r in curve] + [r for _, r in policy_rows] + [floor]
    errors = error_notes(everything)
    notes = errors + noise_notes(everything)
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", f"Total time: {time.monotonic() - started:.0f} s"]
    publish("\n".join(lines), "growth.md")
    if errors and os.environ.get("BENCH_NO_FAIL") != "1":
        print("\nbench: some responses were errors (see above)", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--growth", action="store_true", help="measure growth of data and policy instead")
    parser.add_argument(
        "--scenarios", help="comma-separated subset of the main scenarios (the floor always runs)"
    )
    parser.add_argument(
        "--connections", type=int, default=CONNECTIONS, help=f"wrk connections (default {CONNECTIONS})"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        choices=range(1, 10),
        metavar="N",
        help=f"times the whole sequence runs; each row reports its best round (default {ROUNDS})",
    )
    parser.add_argument(
        "--max-customers", type=int, default=GROWTH_SIZES[-1], help="growth: largest customer count to reach"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the worker with py-spy during each measured run (bench/results/profile-*.txt)",
    )
    parser.add_argument(
        "--skip-big-policy", action="store_true", help="growth: leave out the policy-size part"
    )
    parser.add_argument("--roles", type=int, default=100, help="growth: roles of the big policy")
    parser.add_argument("--scopes", type=int, default=200, help="growth: scopes of the big policy")
    parser.add_argument("--claims", type=int, default=2000, help="growth: claims of the big policy")
    args = parser.parse_args(argv)

    # Also when started from a shell that ignores SIGINT for background jobs: Ctrl-C must clean up.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        wrk = ensure_wrk()
        pin = pinning()
        return run_growth(args, wrk, pin) if args.growth else run_main(args, wrk, pin)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
