"""Respondent form throughput on one uvicorn worker, next to a FastAPI "hello" ceiling.

    .venv/bin/python benchmarks/throughput_bench.py [--database-url postgresql+psycopg://...]
        [--duration 10] [--connections 32] [--threads 2] [--respondents 32]

Starts `peerready serve` (one worker, 127.0.0.1, PEERREADY_ENV=production) on a fresh SQLite data
folder (the default) or, with --database-url, on a throwaway database created on that PostgreSQL
server (dropped afterwards). The cycle is real: a lead starts a cycle of the full instrument,
creates a group link for the clinical group, and --respondents people open it over HTTP (each a
new response, with its own session cookie and the CSRF token its page carries).

Then, with `wrk -t2 -c32 -d10s` (/usr/bin/wrk) against 127.0.0.1 only, in this order:

1. the ceiling: `GET /hello` of a tiny separate FastAPI app (`async def` returning a small JSON
   object) served by uvicorn from the same virtual environment, with the same uvicorn defaults;
2. the respondent form page: `GET /respond/<personal>/page/<N>`, the longest page of the form,
   each request for the next respondent in turn (with that respondent's cookie);
3. the autosave: `POST /respond/<personal>/autosave` with JSON, the CSRF header and cookie, the
   respondents in turn, the answer alternating between two values so every request writes.

Prints requests/s, p50 and p99 latency, the server's CPU time per request (user + system, from
/proc; steadier than requests/s on a shared machine), each rate as a percentage of the ceiling next
to the target (>= 25 %), and the load average (`uptime`) before and after. Every wrk run is
bounded (its duration plus 30 s); every server started is stopped. Exits 1 when a run failed
(non-2xx answers, socket errors) and 0 otherwise, whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.db import migrate  # noqa: E402
from app.db.engine import make_engine  # noqa: E402
from app.db.models import Membership, Organization, Role, User  # noqa: E402
from app.paths import INSTRUMENTS_DIR  # noqa: E402
from app.services import accounts, instruments_store, invitations, responses  # noqa: E402
from app.services import assessments as assessments_service  # noqa: E402

WRK = "/usr/bin/wrk"
HOST = "127.0.0.1"
TARGET_SHARE = 25.0  # percent of the hello ceiling (issue 12)
GROUP = "clinical"
CSRF = re.compile(r'data-csrf="([^"]+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

HELLO_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello():
    return {"message": "Hello World"}
"""

# wrk's Lua: each request goes to the next respondent in turn (one list per wrk thread).
LUA = textwrap.dedent(
    """
    local targets = {%(targets)s}
    local method = "%(method)s"
    local counter = 0
    request = function()
      counter = counter + 1
      local t = targets[(counter %% #targets) + 1]
      local headers = {["Cookie"] = t.cookie}
      local body = nil
      if method == "POST" then
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        headers["X-CSRF-Token"] = t.csrf
        local value = (math.floor(counter / #targets) %% 2 == 0) and "4" or "2"
        body = '{"item_id": "%(item)s", "value": "' .. value .. '", "page": %(page)d}'
      end
      return wrk.format(method, t.path, headers, body)
    end
    """
)


@dataclass
class Respondent:
    personal: str
    cookie: str
    csrf: str


@dataclass
class Figures:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    requests: int
    errors: str


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "load average: " + ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until_up(process: subprocess.Popen, url: str, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode} before it answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within 120 seconds")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def build(url: str) -> tuple[str, int, str]:
    """A lead, an open cycle of the full instrument and a clinical group link. Returns the link's
    token, the longest page of the clinical form and an item on it that is always shown."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine, expire_on_commit=False) as db:
        organization = Organization(name="Throughput Bench Agency")
        lead = User(
            email="lead@bench.example",
            name="Bench Lead",
            role=Role.org_lead,
            password_hash=accounts.hash_password(secrets.token_urlsafe(16)),
        )
        db.add_all([organization, lead])
        db.flush()
        db.add(Membership(user_id=lead.id, organization_id=organization.id))
        assessment = assessments_service.create_assessment(
            db,
            user=lead,
            organization_id=organization.id,
            name="Throughput",
            instrument_id="readiness_full",
            instruments_dir=INSTRUMENTS_DIR,
        )
        instrument = instruments_store.instrument_for(db, assessment)
        _, token = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group=GROUP
        )
        db.commit()
    engine.dispose()
    pages = responses.form_pages(instrument, GROUP)
    longest = max(pages, key=lambda p: len(p.items))
    always = next(i for i in longest.items if i.show_if is None)
    return token, longest.number, always.id


def open_respondents(base: str, link: str, count: int, page: int) -> list[Respondent]:
    """`count` people open the group link, each in a fresh browser (new response and cookie)."""
    people = []
    for _ in range(count):
        with httpx.Client(base_url=base, timeout=30) as browser:
            opened = browser.get(f"/r/{link}")
            match = re.match(r"/respond/([^/?]+)", opened.headers.get("location", ""))
            if opened.status_code != 303 or match is None:
                raise SystemExit(f"opening the link answered {opened.status_code}")
            personal = match.group(1)
            shown = browser.get(f"/respond/{personal}/page/{page}")
            found = CSRF.search(shown.text)
            if shown.status_code != 200 or found is None:
                raise SystemExit(f"the form page answered {shown.status_code}")
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            people.append(Respondent(personal, cookie, found.group(1)))
    return people


def lua_script(folder: Path, people: list[Respondent], method: str, path: str, item: str, page: int) -> Path:
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    targets = ", ".join(
        f"{{path = {quote(path.format(personal=p.personal))}, cookie = {quote(p.cookie)}, "
        f"csrf = {quote(p.csrf)}}}"
        for p in people
    )
    script = folder / f"{method.lower()}.lua"
    script.write_text(LUA % {"targets": targets, "method": method, "item": item, "page": page})
    return script


def duration_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(name: str, url: str, pid: int, args: argparse.Namespace, script: Path | None = None) -> Figures:
    command = [WRK, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    # A slow answer on a busy machine counts in the latency, not as a socket error (default 2 s).
    command += ["--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    before = cpu_seconds(pid)
    result = subprocess.run(command, capture_output=True, text=True, timeout=args.duration + 30)
    spent = cpu_seconds(pid) - before
    out = result.stdout
    if result.returncode != 0:
        raise SystemExit(f"wrk failed for {name}: {result.stderr or out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    assert p50 is not None and p99 is not None, out
    errors = []
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors.append(f"{found.group(1)} non-2xx/3xx")
    if found := re.search(r"Socket errors: (.*)", out):
        counts = [int(n) for n in re.findall(r"\d+", found.group(1))]
        if any(counts):
            errors.append(f"socket errors ({found.group(1).strip()})")
    return Figures(
        name,
        rate,
        duration_ms(*p50.groups()),
        duration_ms(*p99.groups()),
        spent * 1000 / total if total else 0.0,
        total,
        "; ".join(errors),
    )


def serve_app(url: str, data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PEERREADY_DATA_DIR": str(data_dir),
        "PEERREADY_ENV": "production",
        "PEERREADY_BASE_URL": f"http://{HOST}:{port}",
    }
    env.pop("DATABASE_URL", None)
    env.pop("PEERREADY_DATABASE_URL", None)
    if not url.startswith("sqlite"):
        env["DATABASE_URL"] = url
    peerready = Path(sys.executable).with_name("peerready")
    return subprocess.Popen(
        [str(peerready), "serve", "--host", HOST, "--port", str(port)],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def serve_hello(folder: Path, port: int) -> subprocess.Popen:
    (folder / "hello_app.py").write_text(HELLO_APP)
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "hello_app:app", "--host", HOST, "--port", str(port)],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def report(backend: str, ceiling: Figures, measured: list[Figures], args: argparse.Namespace) -> bool:
    print(
        f"\n{backend}, one uvicorn worker; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s on {HOST}; {args.respondents} respondents in turn"
    )
    print(f"  {'':<22}{'requests/s':>11}{'p50':>10}{'p99':>10}{'CPU/request':>13}{'of ceiling':>12}   target")
    ok = True
    for row in [ceiling, *measured]:
        share = 100.0 * row.requests_per_second / ceiling.requests_per_second
        target = (
            ""
            if row is ceiling
            else f">= {TARGET_SHARE:.0f} %: " + ("ok" if share >= TARGET_SHARE else "BELOW TARGET")
        )
        print(
            f"  {row.name:<22}{row.requests_per_second:>11.0f}{row.p50_ms:>8.1f}ms{row.p99_ms:>8.1f}ms"
            f"{row.cpu_ms_per_request:>11.2f}ms{share:>10.1f} %   {target}"
        )
        if row.errors:
            print(f"    FAILED REQUESTS: {row.errors}")
            ok = False
    return ok


def run(url: str, args: argparse.Namespace) -> bool:
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    with tempfile.TemporaryDirectory(prefix="peerready-throughput-") as tmp:
        folder = Path(tmp)
        if url.startswith("sqlite"):
            url = f"sqlite:///{folder / 'peerready.sqlite3'}"
        link, page, item = build(url)
        app_port, hello_port = free_port(), free_port()
        server = hello = None
        try:
            server = serve_app(url, folder, app_port)
            hello = serve_hello(folder, hello_port)
            base = f"http://{HOST}:{app_port}"
            wait_until_up(server, f"{base}/healthz", "peerready serve")
            wait_until_up(hello, f"http://{HOST}:{hello_port}/hello", "the hello app")
            people = open_respondents(base, link, args.respondents, page)
            form = lua_script(folder, people, "GET", "/respond/{personal}/page/" + str(page), item, page)
            save = lua_script(folder, people, "POST", "/respond/{personal}/autosave", item, page)
            print(f"\n{backend}: load before: {uptime()}")
            ceiling = run_wrk("hello (ceiling)", f"http://{HOST}:{hello_port}/hello", hello.pid, args)
            measured = [
                run_wrk(f"form page (page {page})", base + "/", server.pid, args, form),
                run_wrk("autosave", base + "/", server.pid, args, save),
            ]
            ok = report(backend, ceiling, measured, args)
            print(f"  load after: {uptime()}")
            return ok
        finally:
            stop(server)
            stop(hello)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (URL of any database on it): a throwaway database is created "
        "there and dropped afterwards; without it, a fresh SQLite file",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run [10]")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections [32]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument("--respondents", type=int, default=32, help="responses requests rotate over [32]")
    args = parser.parse_args()
    if not 1 <= args.duration <= 120 or not 1 <= args.connections <= 256 or not 1 <= args.threads <= 16:
        parser.error("keep it bounded: --duration 1-120, --connections 1-256, --threads 1-16")
    if not 1 <= args.respondents <= 500:
        parser.error("--respondents must be 1-500")
    if not os.access(WRK, os.X_OK):
        parser.error(f"{WRK} is needed (apt-get install wrk)")
    if args.database_url is None:
        return 0 if run("sqlite", args) else 1

    name = f"peerready_throughput_{secrets.token_hex(4)}"
    admin = make_engine(args.database_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return 0 if run(args.database_url.rsplit("/", 1)[0] + "/" + name, args) else 1
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
