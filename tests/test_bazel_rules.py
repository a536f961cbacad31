"""End-to-end tests of the Bazel rules: real builds, real caches, a consumer workspace.

Every build quantizes Google's face_landmarker.task (with few calibration samples) and compares
the output's sha256 across configurations, output bases and workspaces. Three Bazel servers are
used (two output bases of this repository, one of the consumer workspace) and shut down at the end.
"""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from bazel_output import Bazel, process_summary, sha256, spawn_writing

REPO = pathlib.Path(__file__).resolve().parent.parent
CONSUMER = REPO / "tests" / "bazel" / "consumer"
SMALL = "//tests/bazel:face_landmarker_small"
SMALL_TASK = "tests/bazel/face_landmarker_small.task"
CONSUMER_TARGET = "//mediapipe/tasks/int8:face_landmarker_int8"
CONSUMER_TASK = "mediapipe/tasks/int8/face_landmarker.task"
# Debian's Bazel 4.2.3 knows none of the fork's `common` lines (MediaPipe's, for Bazel 7).
BAZEL4_RC = ["--noworkspace_rc", f"--bazelrc={CONSUMER / 'bazel4.bazelrc'}"]


@pytest.fixture(scope="module")
def servers(real_bazel, tmp_path_factory):
  root = tmp_path_factory.mktemp("bazel")
  made = {
      # This repository through its entry point, in two output bases.
      "main": Bazel([str(REPO / "tools" / "bazel")], REPO, root / "main"),
      "main_other": Bazel([str(REPO / "tools" / "bazel")], REPO, root / "main_other"),
      # The consumer is a MediaPipe fork: it runs Bazel itself.
      "consumer": Bazel([real_bazel] + BAZEL4_RC, CONSUMER, root / "consumer"),
  }
  yield made
  for server in made.values():
    server.shutdown()


@pytest.fixture(scope="module")
def default_build(servers, tmp_path_factory):
  """The small task built in the default configuration, in the linux sandbox without network."""
  log = tmp_path_factory.mktemp("logs") / "default.json"
  main = servers["main"]
  # .bazelrc's ci config: linux-sandbox, no network, strict action env; without its disk cache,
  # so that the action really runs here.
  output = main.build(SMALL, "--config=ci", "--disk_cache=", f"--execution_log_json_file={log}")
  return sha256(main.bin_dir() / SMALL_TASK), output, log


def test_quantize_action_runs_in_linux_sandbox_without_network(default_build):
  digest, output, log = default_build
  ci = (REPO / ".bazelrc").read_text()
  for flag in ("--spawn_strategy=linux-sandbox", "--sandbox_default_allow_network=false",
               "--incompatible_strict_action_env"):
    assert f"build:ci {flag}\n" in ci
  assert "linux-sandbox" in process_summary(output)
  spawn = spawn_writing(log, SMALL_TASK)
  assert spawn["runner"] == "linux-sandbox"
  assert not spawn.get("remoteCacheHit", False)
  assert "tools/quantize_task" in " ".join(spawn["commandArgs"])
  # No environment from the client at all (not even PATH): nothing of this machine in the key.
  assert spawn.get("environmentVariables", []) == []
  assert len(digest) == 64


def test_a_successful_build_prints_only_bazels_own_lines(default_build):
  # The quantizer is --quiet in the action (its table is in the report), and .bazelrc turns off
  # the linux-sandbox debug lines that Debian's /etc/bazel/bazelrc turns on.
  _, output, _ = default_build
  assert "INFO: From " not in output, output
  assert "linux-sandbox.cc" not in output and "linux-sandbox-pid1.cc" not in output, output[-2000:]
  assert "Applying Transformations" not in output and "W0000" not in output


def test_android_arm64_config_gives_the_same_bytes(default_build, servers):
  main = servers["main"]
  output = main.build(SMALL, "--config=android_arm64")
  bin_dir = main.bin_dir("--config=android_arm64")
  assert "arm64-v8a" in str(bin_dir)
  assert sha256(bin_dir / SMALL_TASK) == default_build[0]
  assert "Quantizing" in output  # the action really ran again in the other configuration


def test_other_output_base_same_bytes_and_disk_cache_hit_after_clean(default_build, servers,
                                                                      tmp_path_factory):
  other = servers["main_other"]
  cache = tmp_path_factory.mktemp("disk_cache")
  logs = tmp_path_factory.mktemp("logs")
  first = other.build(SMALL, f"--disk_cache={cache}", f"--execution_log_json_file={logs / 'first.json'}")
  assert sha256(other.bin_dir() / SMALL_TASK) == default_build[0]
  assert not spawn_writing(logs / "first.json", SMALL_TASK).get("remoteCacheHit", False), first

  assert other.run("clean").returncode == 0
  second = other.build(SMALL, f"--disk_cache={cache}", f"--execution_log_json_file={logs / 'second.json'}")
  assert "remote cache hit" in process_summary(second)
  assert spawn_writing(logs / "second.json", SMALL_TASK)["remoteCacheHit"] is True
  assert sha256(other.bin_dir() / SMALL_TASK) == default_build[0]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/tmp;
  proxy_temp_path {root}/tmp;
  fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp;
  scgi_temp_path {root}/tmp;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      root {root}/cache;
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 1g;
    }}
  }}
}}
"""


@pytest.fixture
def nginx_cache():
  """An HTTP remote cache: Debian's nginx with WebDAV PUT on 127.0.0.1, stopped by its PID."""
  nginx = shutil.which("nginx") or "/usr/sbin/nginx"
  assert os.access(nginx, os.X_OK), "nginx is missing: tools/test installs it (apt-get install nginx)"
  root = pathlib.Path(tempfile.mkdtemp(prefix="mediapipe_int8_nginx_"))
  # The worker runs as an unprivileged user: it must reach and write these folders.
  for folder in (root, root / "cache", root / "tmp"):
    folder.mkdir(exist_ok=True)
    folder.chmod(0o777)
  port = free_port()
  (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
  process = subprocess.Popen([nginx, "-p", str(root), "-e", str(root / "error.log"),
                              "-c", str(root / "nginx.conf")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + 10
    while True:
      assert process.poll() is None, f"nginx exited: {process.stderr.read().decode()}"
      try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
      except OSError:
        assert time.monotonic() < deadline, "nginx did not listen within 10 s"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", root
  finally:
    process.terminate()
    try:
      process.wait(timeout=10)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
    shutil.rmtree(root, ignore_errors=True)


def test_consumer_fork_builds_same_bytes_with_http_remote_cache_hit(default_build, servers,
                                                                   nginx_cache, tmp_path_factory):
  url, nginx_root = nginx_cache
  consumer = servers["consumer"]
  logs = tmp_path_factory.mktemp("logs")
  flags = ["--config=android_arm64", f"--remote_cache={url}"]

  consumer.build("//mediapipe/tasks/int8:all", *flags)
  bin_dir = consumer.bin_dir("--config=android_arm64")
  assert sha256(bin_dir / CONSUMER_TASK) == default_build[0]
  # The target gives one file, under Google's asset name: what `assets = [...]` would pack.
  assert (bin_dir / "mediapipe/tasks/int8/assets.txt").read_text() == "face_landmarker.task\n"
  # The report comes through its output group.
  report = json.loads((bin_dir / "mediapipe/tasks/int8/face_landmarker_int8.report.json").read_text())
  assert report["models"], report
  uploads = (nginx_root / "access.log").read_text()
  assert re.search(r'"PUT /cas/[0-9a-f]{64} HTTP/1.1" 20[14]', uploads), uploads[-2000:]

  assert consumer.run("clean").returncode == 0
  second = consumer.build(CONSUMER_TARGET, *flags, f"--execution_log_json_file={logs / 'hit.json'}")
  assert "remote cache hit" in process_summary(second)
  assert spawn_writing(logs / "hit.json", CONSUMER_TASK)["remoteCacheHit"] is True
  assert sha256(bin_dir / CONSUMER_TASK) == default_build[0]


def test_src_that_is_not_a_zip_fails_with_the_tool_error_and_no_output(servers):
  main = servers["main"]
  result = main.run("build", "//tests/bazel:not_a_zip")
  output = result.stdout + result.stderr
  assert result.returncode != 0
  errors = [line for line in output.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1, output[-4000:]
  assert "not_a_bundle.task" in errors[0]
  assert "Traceback" not in output
  bin_dir = main.bin_dir()
  assert not (bin_dir / "tests/bazel/not_a_zip.task").exists()
  assert not (bin_dir / "tests/bazel/not_a_zip.report.json").exists()


def test_fork_py_binaries_get_the_forks_own_python_without_numpy(servers):
  """The fork registers /usr/bin/python3 (no numpy) first; the quantizer above ran regardless."""
  result = servers["consumer"].run("run", "//third_party/python:which_python")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "python: /usr/bin/python3\nnumpy: missing\n" in result.stdout
