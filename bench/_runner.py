"""The processes of a run: one fresh worker (or `import` snippet) per measurement, each from its own
scratch folder, and the local moto server behind the S3 row."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from time import perf_counter as perf

from _jobs import Job

ENTRY_POINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")  # re-invoked with --worker

IMPORT_SNIPPET = "import time; t = time.perf_counter(); import {mod}; print(repr(time.perf_counter() - t))"
# moto's ThreadedMotoServer; with a latency, every request first sleeps that long (in its own
# server thread, so concurrent requests overlap as they would against a remote S3).
MOTO_SNIPPET = """
import sys, time
from moto.moto_server import threaded_moto_server
from moto.server import ThreadedMotoServer

delay = float(sys.argv[2]) / 1000.0
sys.setswitchinterval(0.0005)
from werkzeug.serving import WSGIRequestHandler
WSGIRequestHandler.disable_nagle_algorithm = True
if delay > 0:
    class DelayedApp(threaded_moto_server.DomainDispatcherApplication):
        def __call__(self, environ, start_response):
            time.sleep(delay)
            return super().__call__(environ, start_response)

    threaded_moto_server.DomainDispatcherApplication = DelayedApp
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
time.sleep(1e9)
"""


def log(msg: str) -> None:
    """Prints a progress line to stderr (stdout carries only the report)."""
    print(msg, file=sys.stderr, flush=True)


def worker_env(base: str) -> dict:
    """The workers' environment: this one without a default store or import-time profiling, quiet,
    and with compiled bytecode kept (in `base`): a user's installation has it, so no worker should
    measure compiling votakvot's modules (PYTHONDONTWRITEBYTECODE=1 would make each one do so)."""
    env = dict(os.environ)
    for k in ("VOTAKVOT_PATH", "PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):
        env.pop(k, None)
    env.update(GIT_PYTHON_REFRESH="quiet", PYTHONWARNINGS="ignore", PYTHONPYCACHEPREFIX=os.path.join(base, "pycache"))
    return env


class Runner:
    """Runs jobs one at a time, each in a fresh process and scratch folder, and returns what they report."""

    def __init__(self, args: argparse.Namespace, base: str) -> None:
        # Scratch folders are numbered on from those an earlier run left in `base` (--reuse-stores).
        self.args, self.base, self.count = args, base, sum(name[:1] == "p" for name in os.listdir(base))
        self.env = worker_env(base)

    def point_at_s3(self, port: int) -> None:
        """Sends the workers' S3 requests to the moto server on `port`, with test credentials only."""
        self.env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            FSSPEC_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        )
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            self.env.pop(k, None)

    def run(self, job: Job, profile_out: str = "") -> dict:
        """Runs `job` once; returns its rows, notes and errors (a failed process is an error, not a raise)."""
        self.count += 1
        scratch = os.path.join(self.base, f"p{self.count:03d}-{job.key}")
        os.makedirs(scratch)
        log_path = os.path.join(scratch, "worker.log")
        result_path = os.path.join(scratch, "result.json")
        t0 = perf()
        rc, stdout = self._start(self._command(job, scratch, result_path, profile_out), scratch, log_path)
        wall = perf() - t0
        res = _import_result(job, stdout, rc, log_path) if job.module else _worker_result(result_path, rc, log_path)
        res["wall_s"] = wall
        # Deletions are deferred to the end (they slow later metadata operations on some VMs);
        # write this worker's dirty pages back now so they do not land in the next one's clock.
        os.sync()
        time.sleep(self.args.settle)
        err = f"  ERRORS: {res['errors']}" if res.get("errors") else ""
        log(f"  {job.key:16s} n={job.n:<7} {wall:6.1f}s{err}")
        return res

    def _command(self, job: Job, scratch: str, result_path: str, profile_out: str) -> list[str]:
        """The command line of the job's process: an import snippet, or this benchmark as its worker."""
        if job.module:
            return [sys.executable, "-c", IMPORT_SNIPPET.format(mod=job.module)]
        cmd = [
            sys.executable,
            ENTRY_POINT,
            "--worker",
            job.key,
            "--out",
            result_path,
            "--scratch",
            scratch,
            "--n",
            str(job.n),
            "--store",
            job.store,
            "--plugins",
            self.args.plugins,
        ]
        if self.args.no_warmup:
            cmd.append("--no-warmup")
        if profile_out:
            cmd += ["--profile-out", profile_out]
        return cmd

    def _start(self, cmd: list[str], scratch: str, log_path: str) -> tuple[int | str, str | None]:
        """Runs `cmd` to its end (or --timeout), stderr to `log_path`; returns (exit code or "timeout", stdout)."""
        try:
            with open(log_path, "w") as logf:
                r = subprocess.run(
                    cmd,
                    cwd=scratch,
                    env=self.env,
                    stdout=subprocess.PIPE,
                    stderr=logf,
                    text=True,
                    timeout=self.args.timeout,
                )
        except subprocess.TimeoutExpired:
            return "timeout", None
        return r.returncode, r.stdout


def _import_result(job: Job, stdout: str | None, rc: int | str, log_path: str) -> dict:
    """The one row of an import snippet: the seconds it printed, in ms."""
    try:
        return {
            "rows": {"value": dict(value=float(stdout.strip()) * 1e3, unit="ms", verified=True)},
            "notes": [],
            "errors": [],
        }
    except Exception:
        return {"rows": {}, "notes": [], "errors": [f"import {job.module} failed (rc={rc}): {tail(log_path)}"]}


def _worker_result(result_path: str, rc: int | str, log_path: str) -> dict:
    """What a worker wrote to `result_path`, or an error with the end of its log when it wrote nothing."""
    try:
        with open(result_path) as f:
            return json.load(f)
    except Exception:
        return {"rows": {}, "notes": [], "errors": [f"worker failed (rc={rc}): {tail(log_path)}"]}


def tail(path: str) -> str:
    """The last 800 characters of a log file, for an error message."""
    try:
        with open(path) as f:
            return f.read()[-800:].strip()
    except OSError:
        return ""


# ======================================================================================
# the moto S3 server
# ======================================================================================


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(base: str, latency_ms: float) -> tuple[subprocess.Popen, int]:
    """Starts moto's S3 server on a free local port, in its own process; returns it once it accepts connections."""
    port = _free_port()
    logf = open(os.path.join(base, "moto.log"), "w")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-c", MOTO_SNIPPET, str(port), str(latency_ms)],
        stdout=logf,
        stderr=subprocess.STDOUT,
        cwd=base,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {tail(logf.name)}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("moto server did not start within 60 s")


def stop_moto(proc: subprocess.Popen) -> None:
    """Stops the moto server, killing it when it does not exit within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
