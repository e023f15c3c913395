#!/usr/bin/env python3
"""A local Lambda Runtime API, enough for `lambda_runtime` to start, and the cold-start measurer.

Standard library only. Binds to 127.0.0.1 and nothing else.

    python3 runtime_api.py serve [--port N] [--event FILE]
        The Runtime API alone: point a function at it with AWS_LAMBDA_RUNTIME_API=127.0.0.1:N.
        With --event, the first `next` is answered with FILE; later ones are held open.

    python3 runtime_api.py measure --name NAME --runs N --out FILE [--env K=V ...]
                                   [--strace] [--event FILE] -- BINARY
        Starts BINARY N times, each against a fresh Runtime API on its own port, with exactly the
        --env variables (nothing inherited) plus AWS_LAMBDA_RUNTIME_API and AWS_ENDPOINT_URL, both
        pointing here, so an AWS call made during init lands here (and is reported) instead of
        going out. Init time is from the spawn to the function's first
        `GET /2018-06-01/runtime/invocation/next` (its init is done then); peak RSS is VmHWM from
        /proc/<pid>/status read when that request arrives, before any event is handed over, with
        the process's CPU time by then (all threads: on a busy machine it moves much less than the
        wall clock). The request is then held open (or, with --event, answered with FILE and the
        function's answer recorded) and the process killed. One JSON line per run is appended to
        FILE. With --strace, one more (untimed) run under `strace -f -e trace=connect` lists every
        address the process connected to before its first `next`.

    python3 runtime_api.py table FILE [--init-goal-ms 20] [--rss-goal-mb 32]
        The per-function summary of FILE: median and max init, median CPU, max peak RSS, and the
        goal: init met (every run), met at the median only, or missed; RSS met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/2018-06-01/runtime"
INVOCATION = re.compile(rf"^{PREFIX}/invocation/([^/]+)/(response|error)$")


class State:
    """What one function did against one Runtime API."""

    def __init__(self, on_first_next=None, events=()):
        self.lock = threading.Condition()
        self.on_first_next = on_first_next
        self.first_next_ns: int | None = None
        self.next_calls = 0
        self.events = list(events)  # (request id, payload bytes) still to hand over
        self.responses: dict[str, bytes] = {}
        self.errors: dict[str, dict] = {}
        self.init_error: dict | None = None
        self.other_requests: list[str] = []  # anything that is not the Runtime API: AWS calls
        self.closing = False

    def close(self):
        with self.lock:
            self.closing = True
            self.lock.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API
    server_version = "hawkins-local-runtime-api"

    def log_message(self, fmt, *args):  # quiet: the measure prints its own summary
        if self.server.verbose:
            sys.stderr.write("runtime-api: " + (fmt % args) + "\n")

    @property
    def state(self) -> State:
        return self.server.state

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers (streaming responses name an error type there), then a blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != f"{PREFIX}/invocation/next":
            return self.other()
        state = self.state
        with state.lock:
            state.next_calls += 1
            first = state.first_next_ns is None
            if first:
                state.first_next_ns = time.monotonic_ns()
        if first and state.on_first_next:
            state.on_first_next()  # reads /proc now, while the function waits for its event
        with state.lock:
            while not state.events and not state.closing:
                state.lock.wait()
            if state.closing:
                self.close_connection = True
                return  # closed without an answer: the process is being stopped anyway
            request_id, payload = state.events.pop(0)
        deadline_ms = int(time.time() * 1000) + 60_000
        self.reply(
            200,
            payload,
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:bench",
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self):
        body = self.read_body()
        state = self.state
        if self.path == f"{PREFIX}/init/error":
            if self.server.verbose:
                sys.stderr.write(f"runtime-api: init error: {body[:2000].decode('utf-8', 'replace')}\n")
            with state.lock:
                state.init_error = {
                    "type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                    "body": body.decode("utf-8", "replace"),
                }
                state.lock.notify_all()
            return self.reply(202, b'{"status":"OK"}')
        match = INVOCATION.match(self.path)
        if not match:
            return self.other(body)
        request_id, kind = match.groups()
        if self.server.verbose:
            sys.stderr.write(f"runtime-api: {kind} for {request_id}: {body[:2000].decode('utf-8', 'replace')}\n")
        with state.lock:
            if kind == "response":
                state.responses[request_id] = body
            else:
                state.errors[request_id] = {
                    "type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                    "body": body.decode("utf-8", "replace"),
                }
            state.lock.notify_all()
        self.reply(202, b'{"status":"OK"}')

    def do_PUT(self):
        self.other(self.read_body())

    do_DELETE = do_HEAD = do_PATCH = do_PUT

    def other(self, _body: bytes = b""):
        """Not the Runtime API: with AWS_ENDPOINT_URL pointing here, an AWS call. Refused with a
        403 (not retried by the SDK) and recorded."""
        target = self.headers.get("X-Amz-Target") or ""
        with self.state.lock:
            self.state.other_requests.append(f"{self.command} {self.path} {target}".strip())
        self.reply(403, b'{"__type":"AccessDeniedException","message":"local runtime API: no AWS here"}')


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The measured process is killed as soon as its answer is read: a reply it no longer waits
        # for is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start_server(state: State, port: int = 0, verbose: bool = False) -> ThreadingHTTPServer:
    server = Server(("127.0.0.1", port), Handler)
    server.state = state
    server.verbose = verbose
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_server(server: ThreadingHTTPServer):
    server.state.close()
    server.shutdown()
    server.server_close()


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM, VmRSS (KiB) and Threads of a live process, and its CPU time so far (ns, all
    threads: less disturbed than the wall clock by other work on a busy machine)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                out[key] = int(value.split()[0])
        cpu = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                cpu += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
        out["cpu_ns"] = cpu
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def load_event(path: str | None):
    if not path:
        return []
    return [(str(uuid.uuid4()), Path(path).read_bytes())]


def run_once(binary: str, env: dict, timeout: float, event: str | None, strace_to: str | None):
    """One cold start. Returns the run's record."""
    pid_ready = threading.Event()
    settled = threading.Event()  # the first `next` was read, or the process ended: no polling
    holder: dict = {}

    def on_first_next():
        pid_ready.wait(5)
        holder["status"] = proc_status(holder["pid"]) if "pid" in holder else {}
        settled.set()

    state = State(on_first_next)
    server = start_server(state)
    port = server.server_address[1]
    child_env = dict(env)
    child_env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
    child_env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    argv = [binary]
    if strace_to:
        argv = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", strace_to, binary]
    log = tempfile.TemporaryFile()
    record: dict = {}
    init_calls: list[str] = []
    start_ns = time.monotonic_ns()
    proc = subprocess.Popen(argv, env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    holder["pid"] = proc.pid
    pid_ready.set()
    threading.Thread(target=lambda: (proc.wait(), settled.set()), daemon=True).start()
    try:
        settled.wait(timeout)
        with state.lock:  # the init is sequential: any AWS call it made is done by now
            init_calls = list(state.other_requests)
        if "status" not in holder:
            if proc.poll() is not None:
                record["failed"] = f"exited with status {proc.returncode} before asking for an event"
            else:
                record["failed"] = f"no GET .../invocation/next within {timeout:g} s"
        if "failed" not in record:
            status = holder["status"]
            record["init_ms"] = (state.first_next_ns - start_ns) / 1e6
            record["hwm_kib"] = status.get("VmHWM")
            record["rss_kib"] = status.get("VmRSS")
            record["threads"] = status.get("Threads")
            record["cpu_ms"] = status["cpu_ns"] / 1e6 if "cpu_ns" in status else None
            if event:
                request_id, payload = load_event(event)[0]
                with state.lock:
                    state.events.append((request_id, payload))
                    state.lock.notify_all()
                    state.lock.wait_for(
                        lambda: request_id in state.responses or request_id in state.errors,
                        timeout=timeout,
                    )
                    if request_id in state.responses:
                        record["event"] = "response: " + state.responses[request_id][:200].decode("utf-8", "replace")
                    elif request_id in state.errors:
                        record["event"] = "error: " + json.dumps(state.errors[request_id])[:300]
                    else:
                        record["event"] = "no answer"
                record["hwm_after_event_kib"] = proc_status(proc.pid).get("VmHWM")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group: under strace, the traced child too
        except ProcessLookupError:
            pass
        proc.wait()
        stop_server(server)
    with state.lock:
        if state.init_error:
            record["init_error"] = state.init_error
        if "failed" in record and state.other_requests:
            init_calls = list(state.other_requests)
        if "failed" in record or "event" in record:
            record["aws_calls"] = list(state.other_requests)
    if init_calls:
        record["aws_calls_during_init"] = init_calls
    if "failed" in record:
        log.seek(0)
        record["log_tail"] = log.read().decode("utf-8", "replace")[-2000:]
    log.close()
    return record


CONNECT = re.compile(r"connect\(\d+, \{sa_family=(\w+)")
ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"|sun_path="([^"]*)"')


def connections(strace_file: str) -> list[str]:
    """Every address the traced process connected to, but the local Runtime API."""
    seen = []
    for line in Path(strace_file).read_text().splitlines():
        m = CONNECT.search(line)
        if not m:
            continue
        a = ADDRESS.search(line, m.end())
        if a and a.group(3) is not None:
            where = f"unix:{a.group(3)}"
        elif a:
            where = a.group(1) or a.group(2)
        else:
            where = m.group(1)
        if where in ("127.0.0.1", "::ffff:127.0.0.1") or where in seen:
            continue
        seen.append(where)
    return seen


def measure(args):
    env = {}
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"--env {pair}: expected KEY=VALUE")
        env[key] = value
    binary = args.binary[-1] if args.binary else None
    if not binary or not os.access(binary, os.X_OK):
        sys.exit(f"no executable binary: {binary}")
    with open(args.out, "a") as out:
        for i in range(args.runs):
            record = {"function": args.name, "run": i + 1, **run_once(binary, env, args.timeout, args.event, None)}
            out.write(json.dumps(record) + "\n")
            if "failed" in record:
                print(f"{args.name}: run {i + 1} {record['failed']}", file=sys.stderr)
                print(record.get("log_tail", ""), file=sys.stderr)
                if record.get("init_error"):
                    print(f"init error: {record['init_error']}", file=sys.stderr)
                return 1
        if args.strace:
            with tempfile.NamedTemporaryFile(suffix=".strace") as trace:
                record = run_once(binary, env, args.timeout * 4, None, trace.name)
                if "failed" in record:
                    net = {"function": args.name, "net_check": "failed: " + record["failed"]}
                else:
                    net = {"function": args.name, "net_check": "done", "connected_to": connections(trace.name)}
                out.write(json.dumps(net) + "\n")
    return 0


def table(args):
    runs: dict[str, list[dict]] = {}
    net: dict[str, dict] = {}
    for line in Path(args.file).read_text().splitlines():
        record = json.loads(line)
        if "net_check" in record:
            net[record["function"]] = record
        else:
            runs.setdefault(record["function"], []).append(record)
    header = f"{'function':<10} {'runs':>4} {'init median':>12} {'init max':>9} {'CPU median':>11} {'peak RSS max':>13} {'threads':>7}  goal (init <= {args.init_goal_ms:g} ms, RSS <= {args.rss_goal_mb:g} MB)"
    print(header)
    print("-" * len(header))
    findings = []
    for name, records in runs.items():
        ok = [r for r in records if "init_ms" in r]
        if not ok:
            print(f"{name:<10} {len(records):>4}  did not start: {records[0].get('failed')}")
            continue
        inits = [r["init_ms"] for r in ok]
        cpu = [r["cpu_ms"] for r in ok if r.get("cpu_ms") is not None]
        cpu_text = f"{statistics.median(cpu):>8.2f} ms" if cpu else f"{'-':>11}"
        hwm = max(r["hwm_kib"] or 0 for r in ok) / 1024
        threads = max(r["threads"] or 0 for r in ok)
        if max(inits) <= args.init_goal_ms:
            init_verdict = "init met"
        elif statistics.median(inits) <= args.init_goal_ms:
            init_verdict = "init met at the median, not every run"
        else:
            init_verdict = "init MISSED"
        verdict = f"{init_verdict}; RSS {'met' if hwm <= args.rss_goal_mb else 'MISSED'}"
        calibration = name.startswith("(")
        if calibration:  # not a function: what the harness alone takes (spawn, connect, request)
            verdict = "the harness alone: a bash client that only asks for an event"
        print(
            f"{name:<10} {len(ok):>4} {statistics.median(inits):>9.2f} ms {max(inits):>6.2f} ms {cpu_text} {hwm:>9.1f} MB {threads:>7}  {verdict}"
        )
        if calibration:
            continue
        calls = sorted({c for r in records for c in r.get("aws_calls_during_init", [])})
        if calls:
            findings.append(f"{name}: AWS calls during init: {'; '.join(calls)}")
        check = net.get(name)
        if check is None:
            findings.append(f"{name}: connect() check not run (no strace)")
        elif check["net_check"] != "done":
            findings.append(f"{name}: connect() check {check['net_check']}")
        elif check["connected_to"]:
            findings.append(f"{name}: connected before its first event to {', '.join(check['connected_to'])}")
        else:
            findings.append(f"{name}: no connection before its first event but to the local Runtime API")
        events = [r["event"] for r in ok if "event" in r]
        if events:
            findings.append(f"{name}: after the event: {events[0]}")
    print()
    print("Init: spawn -> first GET /runtime/invocation/next (wall clock). CPU: the process's CPU time")
    print("by then, all threads. Peak RSS: VmHWM then, the largest of the runs (MB = MiB).")
    for finding in findings:
        print("  " + finding)
    return 0


def serve(args):
    state = State(events=load_event(args.event))
    server = start_server(state, args.port, verbose=True)
    print(f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop_server(server)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--port", type=int, default=9001)
    p.add_argument("--event")
    p.set_defaults(func=serve)
    p = sub.add_parser("measure")
    p.add_argument("--name", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", required=True)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--event")
    p.add_argument("--strace", action="store_true")
    p.add_argument("binary", nargs=argparse.REMAINDER)
    p.set_defaults(func=measure)
    p = sub.add_parser("table")
    p.add_argument("file")
    p.add_argument("--init-goal-ms", type=float, default=20.0)
    p.add_argument("--rss-goal-mb", type=float, default=32.0)
    p.set_defaults(func=table)
    args = parser.parse_args(argv)
    if getattr(args, "binary", None) and args.binary[0] == "--":
        args.binary = args.binary[1:]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
