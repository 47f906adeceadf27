"""Instructions per request of each scenario, counted by valgrind (callgrind), in-process.

    .venv/bin/python bench/instructions.py                 # `make bench-instructions`: every scenario
    .venv/bin/python bench/instructions.py token,patch     # some of them

A figure that stays the same from run to run on a machine whose speed does not: this one's
req/s move by a factor of two within minutes, so a change worth 5 % cannot be seen in them.
The requests are those of `bench/run.py`, handed straight to the WSGI application (no server,
no socket): what the service's own code costs, without gunicorn's share, and without the
kernel's (writing the database file, the network), which callgrind does not see.

Each scenario runs twice in a child process under callgrind, from the same copy of a fresh
SQLite database and after the same warm-up, once with MORE requests than the other; the
difference of the two totals divided by MORE is the cost of one request, start-up and warm-up
cancelled out. Children run two at a time. Uses the standard library only (and valgrind, which
is installed from Debian when missing and running as root).
"""

import argparse
import base64
import contextlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run as bench  # the benchmark's own helpers, once the path is set

WARMUP, BASE, MORE = 30, 20, 100
SCENARIOS = ("floor", "token", "introspect", "detail_admin", "detail_sales", "list50", "patch")


def ensure_valgrind() -> str:
    found = shutil.which("valgrind")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        bench.log("valgrind is missing: installing it with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", "valgrind"], env=env, timeout=600, check=False)  # noqa: S607
        found = shutil.which("valgrind")
        if found:
            return found
    raise bench.BenchError("valgrind is not installed (Debian/Ubuntu: `sudo apt-get install -y valgrind`)")


# ---------------------------------------------------------------- the child: requests in-process


def _basic(client: dict) -> str:
    pair = f"{client['client_id']}:{client['client_secret']}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def child(scenario: str, count: int, clients_file: str) -> None:
    """Send WARMUP + `count` requests of `scenario` to the WSGI application, then exit."""
    import io

    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from claims import selectors
    from claims.models import Customer

    # The list's cached total is recounted every few seconds of wall time, which callgrind
    # stretches by a varying factor: held for the run, so both runs recount the same.
    selectors.CUSTOMER_TOTAL_SECONDS = 24 * 3600
    application = get_wsgi_application()
    clients = json.loads(Path(clients_file).read_text())

    def call(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_FORWARDED_PROTO": "https",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        status = []
        chunks = application(environ, lambda line, _headers, _exc=None: status.append(line))
        content = b"".join(chunks)
        chunks.close()
        if not status[0].startswith("2"):
            raise SystemExit(f"{scenario}: {method} {path} answered {status[0]}: {content[:300]!r}")
        return content

    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def token_for(client: dict) -> str:
        headers = {**form, "Authorization": _basic(client), "X-API-Key": client["api_key"]}
        return json.loads(call("POST", "/oauth/token/", b"grant_type=client_credentials", headers))[
            "access_token"
        ]

    admin, sales = token_for(clients["admin"]), token_for(clients["sales"])
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    pick = random.Random(0).choice  # noqa: S311  (the same customers in every run)
    resource = clients["resource"]
    requests = {
        "floor": lambda: call("GET", "/bench/floor/"),
        "token": lambda: token_for(clients["admin"]),
        "introspect": lambda: call(
            "POST",
            "/oauth/introspect/",
            f"token={admin}".encode(),
            {**form, "Authorization": _basic(resource), "X-API-Key": resource["api_key"]},
        ),
        "detail_admin": lambda: call(
            "GET", f"/api/v1/customers/{pick(ids)}/", headers={"Authorization": f"Bearer {admin}"}
        ),
        "detail_sales": lambda: call(
            "GET", f"/api/v1/customers/{pick(ids)}/", headers={"Authorization": f"Bearer {sales}"}
        ),
        "list50": lambda: call(
            "GET", "/api/v1/customers/?page_size=50", headers={"Authorization": f"Bearer {admin}"}
        ),
        "patch": lambda: call(
            "PATCH",
            f"/api/v1/customers/{pick(ids)}/",
            b'{"profile": {"age": 42}}',
            {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        ),
    }
    send = requests[scenario]
    for _ in range(WARMUP + count):
        send()


# ---------------------------------------------------------------- the parent


def counted(valgrind: str, env: dict, snapshot: Path, scenario: str, count: int, clients: Path) -> int:
    """Instructions of one child run, from its own copy of the database."""
    with tempfile.TemporaryDirectory(prefix="instructions-") as folder:
        database = Path(folder) / "db.sqlite3"
        shutil.copyfile(snapshot, database)
        out = Path(folder) / "callgrind.out"
        child_env = {**env, "DATABASE_URL": f"sqlite:///{database}"}
        done = subprocess.run(  # noqa: S603  (our own command)
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                bench.PYTHON,
                __file__,
                "--child",
                scenario,
                str(count),
                str(clients),
            ],
            cwd=bench.ROOT,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or not found:
            raise bench.BenchError(f"{scenario} ({count} requests) failed:\n{done.stderr[-1500:]}")
        return int(found.group(1))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="?", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--child", nargs=3, metavar=("SCENARIO", "COUNT", "CLIENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    wanted = args.scenarios.split(",")
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    if "floor" not in wanted:
        wanted.insert(0, "floor")
    try:
        valgrind = ensure_valgrind()
        revision = bench.git_revision()
        bench.RESULTS.mkdir(exist_ok=True)
        snapshot = bench.RESULTS / "instructions.sqlite3"
        for stale in (snapshot, Path(f"{snapshot}-wal"), Path(f"{snapshot}-shm")):
            stale.unlink(missing_ok=True)
        env = bench.service_env(bench.Database(f"sqlite:///{snapshot}", "", owned=True))
        # Introspection events are queued for a minute: both runs write theirs at exit.
        env["AUDIT_BATCH_SECONDS"] = "60"
        bench.prepare(
            env, bench.Database(env["DATABASE_URL"], f"sqlite {snapshot.name}", owned=True), seed=1000
        )
        bench.log("create_client: admin, salesperson, resource server")
        issued = {
            "admin": bench.create_client(env, "instructions-admin", "admin"),
            "sales": bench.create_client(env, "instructions-sales", "salesperson"),
            "resource": bench.create_client(env, "instructions-rs", "viewer", resource_server=True),
        }
        clients = bench.RESULTS / "instructions-clients.json"
        clients.write_text(json.dumps({name: vars(credentials) for name, credentials in issued.items()}))
        # One file: the copies the children start from must not need the WAL beside it.
        with contextlib.closing(sqlite3.connect(snapshot)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        runs = [(scenario, count) for scenario in wanted for count in (BASE, BASE + MORE)]
        bench.log(f"{len(runs)} runs under callgrind, two at a time (each takes a minute or so)")
        with ThreadPoolExecutor(max_workers=2) as pool:
            totals = dict(
                zip(
                    runs,
                    pool.map(lambda run: counted(valgrind, env, snapshot, run[0], run[1], clients), runs),
                    strict=True,
                )
            )
    except bench.BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    per_request = {s: (totals[(s, BASE + MORE)] - totals[(s, BASE)]) / MORE for s in wanted}
    floor = per_request["floor"]
    rows = [[s, f"{per_request[s] / 1e6:.3f}", f"{floor / per_request[s]:.2f}"] for s in wanted]
    text = "\n".join(
        [
            "# Instructions per request (callgrind, in-process, SQLite, 1000 customers)",
            "",
            f"- code at commit {revision}; {MORE} requests counted per scenario after {WARMUP} of warm-up",
            "",
            bench.markdown_table(["scenario", "M instructions", "floor ÷ this"], rows, right={1, 2}),
        ]
    )
    bench.publish(text, "instructions.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
