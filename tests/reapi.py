"""A remote-execution cluster on 127.0.0.1 for the tests: PostgreSQL, BuildGrid and a buildbox worker.

    with reapi.Cluster(tmp_dir) as cluster:
        bazel build --remote_executor=cluster.executor --remote_instance_name=cluster.instance \
            $(cluster.exec_properties flags) ...

- PostgreSQL: Debian's server (installed with apt-get when missing), a fresh `initdb` run as the
  postgres user, listening on 127.0.0.1 only.
- BuildGrid 0.4.4, the REAPI server (execution, CAS on disk, action cache, bytestream), from its
  own venv `.cache/buildgrid-venv` with `third_party/buildgrid_requirements.lock` (hashes checked).
  It addresses PostgreSQL as `postgresql+psycopg2://`: with plain `postgresql://` SQLAlchemy 2.1
  picks psycopg 3, and jobs were then picked up only every few minutes.
- buildbox-casd and buildbox-worker 1.4.30 in the Debian sid root of tests/bazel/bazel7.sh (buildbox
  is only in sid), the worker with `buildbox-run-hosttools` and `--staging-mode=copy-or-link` (the
  FUSE stager fails in a chroot), and the root's /sys mounted (mediapipe aborts without it). The
  worker advertises PLATFORM; BuildGrid matches those keys, so Bazel's
  `--remote_default_exec_properties` route actions to it, and only to it.

Every wait has a deadline, every service its log file in the cluster's folder (`tails()` shows
them), and everything is stopped by process id on exit, even when a test fails.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BAZEL7 = REPO / "tests" / "bazel" / "bazel7.sh"
BUILDGRID_VENV = REPO / ".cache" / "buildgrid-venv"
BUILDGRID_LOCK = REPO / "third_party" / "buildgrid_requirements.lock"
POSTGRES_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
INSTANCE = "main"
# What the worker offers; BuildGrid matches these keys (match-property-keys).
PLATFORM = {"OSFamily": "linux", "mediapipe_int8_worker": "sid-buildbox"}
START_TIMEOUT = 120

BUILDGRID_CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
# BuildGrid takes at most this many RPCs at once (default 5 per core); Bazel stays under it
# (Cluster.bazel_flags: 2 connections of at most 100 RPCs each).
thread-pool-size: 256
grpc-server-options:
  grpc.max_receive_message_length: 268435456
  grpc.max_send_message_length: 268435456
connections:
  - !sql-connection &sql
    connection-string: postgresql+psycopg2://bgd@127.0.0.1:{pg_port}/bgd
    pool-size: 5
    max-overflow: 10
storages:
  - !disk-storage &cas
    path: {root}/cas
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 4096
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    action-cache: *ac
    storage: *cas
    property-set: !dynamic-property-set
      match-property-keys: [{keys}]
    max-execution-timeout: 1800
instances:
  - name: {instance}
    services:
      - !action-cache
        cache: *ac
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


class ClusterError(Exception):
  """A service did not install or start; the message has what it printed."""


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: pathlib.Path, what: str) -> None:
  deadline = time.monotonic() + START_TIMEOUT
  while True:
    if process.poll() is not None:
      raise ClusterError(f"{what} exited with {process.returncode}:\n{tail(log)}")
    try:
      socket.create_connection(("127.0.0.1", port), timeout=1).close()
      return
    except OSError:
      if time.monotonic() > deadline:
        raise ClusterError(f"{what} did not listen on 127.0.0.1:{port} in {START_TIMEOUT} s:\n"
                           f"{tail(log)}")
      time.sleep(0.2)


def tail(log: pathlib.Path, lines: int = 30) -> str:
  if not log.exists():
    return f"({log} was not written)"
  return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_logged(command: list[str], log: pathlib.Path, what: str, timeout: int = 900) -> None:
  """Runs a set-up step with its output in `log`, shown only when it fails."""
  with open(log, "a") as out:
    result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, timeout=timeout, check=False)
  if result.returncode != 0:
    raise ClusterError(f"{what} failed (exit {result.returncode}):\n{tail(log)}")


def ensure_installed(log: pathlib.Path) -> None:
  """Debian's PostgreSQL server and the BuildGrid venv, when missing."""
  if not (POSTGRES_BIN / "postgres").exists():
    run_logged(["apt-get", "update", "-qq"], log, "apt-get update")
    run_logged(["apt-get", "install", "-y", "-qq", "postgresql-15"], log, "installing postgresql-15")
  stamp = BUILDGRID_VENV / ".buildgrid_requirements.lock"
  if not stamp.exists() or stamp.read_bytes() != BUILDGRID_LOCK.read_bytes():
    run_logged(["python3", "-m", "venv", str(BUILDGRID_VENV)], log, "creating the BuildGrid venv")
    run_logged([str(BUILDGRID_VENV / "bin" / "pip"), "install", "--quiet", "--require-hashes",
                "--no-deps", "-r", str(BUILDGRID_LOCK)], log, "installing BuildGrid")
    shutil.copy(BUILDGRID_LOCK, stamp)


class Cluster:
  """PostgreSQL, BuildGrid and one buildbox worker, for one `with` block."""

  def __init__(self, parent: pathlib.Path):
    # Under /tmp, which the sid root sees at the same path, and readable by the postgres user.
    self.root = pathlib.Path(tempfile.mkdtemp(prefix="reapi_", dir=parent))
    self.root.chmod(0o755)
    self.port = free_port()
    self.pg_port = free_port()
    self.processes: list[tuple[str, subprocess.Popen]] = []
    self.instance = INSTANCE
    self.executor = f"grpc://127.0.0.1:{self.port}"

  def bazel_flags(self) -> list[str]:
    return [f"--remote_executor={self.executor}", f"--remote_instance_name={self.instance}",
            "--remote_timeout=900", "--remote_max_connections=2"] + [
                f"--remote_default_exec_properties={k}={v}" for k, v in PLATFORM.items()]

  def log(self, name: str) -> pathlib.Path:
    return self.root / f"{name}.log"

  def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
    out = open(self.log(name), "a")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
    out.close()
    self.processes.append((name, process))
    return process

  def start_postgres(self) -> None:
    data = self.root / "pg"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    run_logged(as_postgres + [str(POSTGRES_BIN / "initdb"), "-D", str(data / "data"), "-A",
                              "trust", "-U", "bgd", "--no-sync"], self.log("postgres"), "initdb")
    process = self.spawn("postgres", as_postgres + [
        str(POSTGRES_BIN / "postgres"), "-D", str(data / "data"), "-h", "127.0.0.1",
        "-p", str(self.pg_port), "-k", str(data), "-c", "fsync=off"])
    wait_for_port(self.pg_port, process, self.log("postgres"), "PostgreSQL")
    run_logged([str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                "-U", "bgd", "bgd"], self.log("postgres"), "createdb")

  def start_buildgrid(self) -> None:
    config = self.root / "buildgrid.yml"
    config.write_text(BUILDGRID_CONFIG.format(
        port=self.port, pg_port=self.pg_port, root=self.root, instance=self.instance,
        keys=", ".join(PLATFORM)))
    (self.root / "cas").mkdir()
    bgd = str(BUILDGRID_VENV / "bin" / "bgd")
    run_logged([bgd, "migrate", "apply",
                f"postgresql+psycopg2://bgd@127.0.0.1:{self.pg_port}/bgd"],
               self.log("buildgrid"), "bgd migrate apply")
    process = self.spawn("buildgrid", [bgd, "server", "start", str(config)])
    wait_for_port(self.port, process, self.log("buildgrid"), "BuildGrid")

  def start_worker(self) -> None:
    remote = f"http://127.0.0.1:{self.port}"
    cache = self.root / "casd"
    socket_path = self.root / "casd.sock"
    self.spawn("casd", ["bash", str(BAZEL7), "run", "buildbox-casd", f"--cas-remote={remote}",
                        f"--cas-instance={self.instance}", f"--proxy-instance={self.instance}",
                        f"--bind=unix:{socket_path}",
                        "--log-level=warning", str(cache)])
    deadline = time.monotonic() + START_TIMEOUT
    while not socket_path.exists():
      if time.monotonic() > deadline or self.processes[-1][1].poll() is not None:
        raise ClusterError(f"buildbox-casd did not start:\n{tail(self.log('casd'))}")
      time.sleep(0.2)
    platform = [f"--platform={k}={v}" for k, v in PLATFORM.items()]
    self.spawn("worker", ["bash", str(BAZEL7), "run", "buildbox-worker",
                          f"--bots-remote={remote}", f"--cas-remote=unix:{socket_path}",
                          f"--instance={self.instance}",
                          "--buildbox-run=/usr/bin/buildbox-run-hosttools",
                          "--runner-arg=--staging-mode=copy-or-link", "--max-wait-time=5",
                          *platform, "mediapipe_int8-worker"])
    time.sleep(2)
    if self.processes[-1][1].poll() is not None:
      raise ClusterError(f"buildbox-worker exited:\n{tail(self.log('worker'))}")

  def tails(self) -> str:
    return "\n".join(f"--- {name} ---\n{tail(self.log(name))}" for name, _ in self.processes)

  def stop(self) -> None:
    for _, process in reversed(self.processes):
      if process.poll() is None:
        os.killpg(process.pid, 15)
    for _, process in reversed(self.processes):
      try:
        process.wait(timeout=15)
      except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=15)

  def __enter__(self) -> "Cluster":
    try:
      ensure_installed(self.log("install"))
      self.start_postgres()
      self.start_buildgrid()
      self.start_worker()
    except BaseException:
      self.__exit__()
      raise
    return self

  def __exit__(self, *exc) -> None:
    self.stop()
    shutil.rmtree(self.root, ignore_errors=True)
