"""The rules under Bazel 7.7.1 (Debian sid's bazel-bootstrap, in a root that tests/bazel/bazel7.sh
builds once and keeps in a cache folder): the MediaPipe-like fork in hybrid mode (its .bazelrc:
Bzlmod on, WORKSPACE read too), Bzlmod alone and WORKSPACE alone, with its own Python toolchain
registered first; the same bytes as Bazel 4.2.3, and a disk cache hit after `bazel clean`.

It fails when the root cannot be built (no root, no debootstrap, no Debian mirror). To skip it on
purpose, set MEDIAPIPE_INT8_SKIP_BAZEL7 to the reason.
"""

import os
import pathlib
import re
import subprocess

import pytest

import reapi
from bazel_output import Bazel, process_summary, sha256, spawn_writing

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "bazel" / "bazel7.sh"
CONSUMER = REPO / "tests" / "bazel" / "consumer"
TARGET = "//mediapipe/tasks/int8:face_landmarker_int8"
TASK = "mediapipe/tasks/int8/face_landmarker.task"
SKIP_ENV = "MEDIAPIPE_INT8_SKIP_BAZEL7"
SKIP_REMOTE_ENV = "MEDIAPIPE_INT8_SKIP_REMOTE"
# Debian's Bazel 4.2.3 knows none of the fork's `common` lines (MediaPipe's, for Bazel 7).
BAZEL4_RC = ["--noworkspace_rc", f"--bazelrc={CONSUMER / 'bazel4.bazelrc'}"]


def python_repo_env() -> list[str]:
  """The root has no Python 3.11: the environment is made with the .venv's interpreter, whose
  installation tests/bazel/bazel7.sh mounts, into the store of tools/setup.sh (in this repository,
  which the root sees at the same path)."""
  home = re.search(r"^home = (.*)$", (REPO / ".venv" / "pyvenv.cfg").read_text(), re.M).group(1)
  return [f"--repo_env=MEDIAPIPE_INT8_PYTHON_BOOTSTRAP={home}/python3.11",
          f"--repo_env=MEDIAPIPE_INT8_PYTHON_STORE={os.environ['MEDIAPIPE_INT8_PYTHON_STORE']}"]


def task(server: Bazel, *config: str) -> pathlib.Path:
  return server.bin_dir(*config) / TASK


@pytest.fixture(scope="module")
def sid_root() -> pathlib.Path:
  """The Bazel 7.7.1 root (built the first time, then reused), or a plain failure."""
  reason = os.environ.get(SKIP_ENV, "").strip()
  if reason:
    pytest.skip(f"Bazel 7.7.1 suite skipped on purpose ({SKIP_ENV}={reason})")
  hint = f"set {SKIP_ENV}=<reason> to skip it on purpose"
  if os.geteuid() != 0:
    pytest.fail(f"the Bazel 7.7.1 suite needs root (debootstrap, chroot, mounts); {hint}",
                pytrace=False)
  result = subprocess.run(["bash", str(SCRIPT), "root"], capture_output=True, text=True,
                          timeout=1800, stdin=subprocess.DEVNULL, check=False)
  if result.returncode != 0:
    pytest.fail(f"could not build the Bazel 7.7.1 root with {SCRIPT.relative_to(REPO)} root:\n"
                f"{result.stderr[-3000:]}\n{hint}", pytrace=False)
  return pathlib.Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def servers(sid_root, tmp_path_factory):
  root = tmp_path_factory.mktemp("bazel7")  # under /tmp, which the root sees at the same path
  setup = subprocess.run(["bash", str(REPO / "tools" / "setup.sh")], capture_output=True,
                         text=True, timeout=1800, check=False, stdin=subprocess.DEVNULL)
  assert setup.returncode == 0, setup.stderr
  bazel7 = ["bash", str(SCRIPT), "bazel", str(CONSUMER)]
  bazel4 = [setup.stdout.strip().splitlines()[-1]] + BAZEL4_RC
  made = {
      "bazel4": Bazel(bazel4, CONSUMER, root / "bazel4"),
      # The fork's .bazelrc: Bzlmod on, WORKSPACE read too (MediaPipe's way).
      "hybrid": Bazel(bazel7, CONSUMER, root / "hybrid", flags=python_repo_env()),
      "bzlmod": Bazel(bazel7, CONSUMER, root / "bzlmod",
                      flags=["--noenable_workspace"] + python_repo_env()),
      "workspace": Bazel(bazel7, CONSUMER, root / "workspace",
                         flags=["--noenable_bzlmod"] + python_repo_env()),
      "remote": Bazel(bazel7, CONSUMER, root / "remote", flags=python_repo_env()),
  }
  yield made, root
  for server in made.values():
    server.shutdown()


@pytest.fixture(scope="module")
def bazel4_digest(servers) -> str:
  """The consumer's target built by Bazel 4.2.3 (WORKSPACE): the bytes every build must match."""
  bazel4 = servers[0]["bazel4"]
  bazel4.build(TARGET)
  return sha256(task(bazel4))


def test_bazel7_is_7_7_1(sid_root):
  result = subprocess.run(["bash", str(SCRIPT), "bazel", str(CONSUMER), "--version"],
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == "bazel 7.7.1", result.stdout


def test_hybrid_mode_builds_the_same_bytes_as_bazel4(servers, bazel4_digest):
  made, root = servers
  hybrid = made["hybrid"]
  output = hybrid.build(TARGET, f"--disk_cache={root / 'disk_cache'}")
  assert "Quantizing" in output and "disk cache hit" not in process_summary(output)
  assert sha256(task(hybrid)) == bazel4_digest
  # The fork's own rules_python, under MediaPipe's name for it.
  query = hybrid.run("query", "@rules_python_bzlmod//python:py_binary.bzl")
  assert query.returncode == 0, query.stderr[-3000:]


@pytest.mark.parametrize("mode", ["hybrid", "bzlmod", "workspace"])
def test_fork_py_binaries_get_the_forks_python_and_the_quantizer_ours(servers, mode):
  """The fork registers /usr/bin/python3 (no numpy) first, in MODULE.bazel and WORKSPACE; the
  quantizer builds regardless (above and below), with mediapipe_int8's own toolchain."""
  server = servers[0][mode]
  result = server.run("run", "//third_party/python:which_python")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "python: /usr/bin/python3\nnumpy: missing\n" in result.stdout


def test_hybrid_disk_cache_hit_after_clean(servers, bazel4_digest):
  made, root = servers
  hybrid = made["hybrid"]
  hybrid.build(TARGET, f"--disk_cache={root / 'disk_cache'}")  # in the cache (again, if alone)
  assert hybrid.run("clean").returncode == 0
  assert not task(hybrid).exists()
  output = hybrid.build(TARGET, f"--disk_cache={root / 'disk_cache'}")
  summary = process_summary(output)
  # Every action that ran before (the quantizer, the calibration photo) came from the disk cache.
  assert re.search(r"\b\d+ disk cache hit\b", summary), output[-3000:]
  assert not re.search(r"sandbox|\blocal\b|worker", summary), summary
  assert sha256(task(hybrid)) == bazel4_digest


def test_bzlmod_only_android_arm64_config_gives_the_same_bytes(servers, bazel4_digest):
  rc = (CONSUMER / ".bazelrc").read_text()
  for line in ("common --enable_bzlmod", "build:android_arm64 --config=android",
               "build:android_arm64 --cpu=arm64-v8a", "build:android_arm64 --fat_apk_cpu=arm64-v8a",
               "build:android_arm64 --platforms=@//third_party/android:arm64-v8a"):
    assert line + "\n" in rc, f"MediaPipe's line {line!r} is missing from the consumer's .bazelrc"
  bzlmod = servers[0]["bzlmod"]
  output = bzlmod.build(TARGET, "--config=android_arm64")
  assert "Quantizing" in output
  built = task(bzlmod, "--config=android_arm64")
  assert "arm64-v8a" in str(built)
  assert sha256(built) == bazel4_digest


def test_workspace_mode_builds_the_same_bytes_as_bazel4(servers, bazel4_digest):
  workspace = servers[0]["workspace"]
  output = workspace.build(TARGET, "--config=android_arm64")
  assert "Quantizing" in output
  assert sha256(task(workspace, "--config=android_arm64")) == bazel4_digest


def test_remote_execution_on_buildgrid_and_buildbox(servers, bazel4_digest):
  """The fork's target built on a real REAPI engine on 127.0.0.1 (tests/reapi.py): BuildGrid with
  PostgreSQL, and a buildbox worker in the sid root that has no Python of its own: the quantizer's
  interpreter and packages arrive as inputs. Then `bazel clean`, and the result comes back from
  the remote cache."""
  reason = os.environ.get(SKIP_REMOTE_ENV, "").strip()
  if reason:
    pytest.skip(f"remote execution skipped on purpose ({SKIP_REMOTE_ENV}={reason})")
  made, root = servers
  remote = made["remote"]
  with reapi.Cluster(pathlib.Path("/tmp")) as cluster:
    flags = cluster.bazel_flags() + ["--spawn_strategy=remote", f"--execution_log_json_file={root / 'remote.json'}"]
    result = remote.run("build", TARGET, *flags)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:] + "\n" + cluster.tails()
    summary = process_summary(output)
    assert re.search(r"\b\d+ remote\b", summary), summary
    assert sha256(task(remote)) == bazel4_digest
    spawn = spawn_writing(root / "remote.json", TASK)
    assert spawn["runner"] == "remote" and not spawn.get("remoteCacheHit", False), spawn["runner"]

    assert remote.run("clean").returncode == 0
    again = remote.build(TARGET, *flags)
    assert "remote cache hit" in process_summary(again), again[-3000:]
    assert sha256(task(remote)) == bazel4_digest
  remote.shutdown()


def test_docs_show_the_module_bazel_this_test_uses():
  module = (CONSUMER / "MODULE.bazel").read_text()
  assert f"```python\n{module}```" in (REPO / "docs" / "bazel.md").read_text(), \
      f"docs/bazel.md must show {CONSUMER}/MODULE.bazel"
