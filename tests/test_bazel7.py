"""The rules under Bazel 7.7.1 (Debian sid's bazel-bootstrap, in a root that tests/bazel/bazel7.sh
builds once and keeps in a cache folder): the consumer fork in Bzlmod and in WORKSPACE mode, the
same bytes as Bazel 4.2.3, and a disk cache hit after `bazel clean`.

It fails when the root cannot be built (no root, no debootstrap, no Debian mirror). To skip it on
purpose, set MEDIAPIPE_INT8_SKIP_BAZEL7 to the reason.
"""

import os
import pathlib
import re
import subprocess

import pytest

from bazel_output import process_summary, sha256

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "bazel" / "bazel7.sh"
CONSUMER = REPO / "tests" / "bazel" / "consumer"
TARGET = "//mediapipe/tasks/int8:face_landmarker_int8"
TASK = "mediapipe/tasks/int8/face_landmarker_int8.task"
SKIP_ENV = "MEDIAPIPE_INT8_SKIP_BAZEL7"
TIMEOUT = 900


class Bazel:
  """One Bazel server: a command, a workspace and an output base."""

  def __init__(self, command: list[str], output_base: pathlib.Path, *mode: str):
    self.command, self.output_base, self.mode = command, output_base, list(mode)

  def run(self, *args: str) -> subprocess.CompletedProcess:
    startup = [f"--output_base={self.output_base}", "--max_idle_secs=900"]
    common = {"shutdown": [], "query": self.mode}.get(
        args[0], self.mode + ["--symlink_prefix=/", "--color=no", "--curses=no"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAZEL", "USE_BAZEL"))}
    return subprocess.run(self.command + startup + [args[0]] + common + list(args[1:]),
                          cwd=CONSUMER, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)

  def build(self, *args: str) -> str:
    result = self.run("build", *args)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"bazel build {' '.join(args)} failed:\n{output[-6000:]}"
    return output

  def task(self, *config: str) -> pathlib.Path:
    result = self.run("info", *config, "bazel-bin")
    assert result.returncode == 0, result.stderr[-3000:]
    return pathlib.Path(result.stdout.strip()) / TASK

  def python_rules(self) -> str:
    """Which Python rules @mediapipe_int8_py_rules//:defs.bzl chose in this output base."""
    found = list((self.output_base / "external").glob("*mediapipe_int8_py_rules/defs.bzl"))
    assert len(found) == 1, found
    return re.search(r'^RULES = "(\w+)"$', found[0].read_text(), re.M).group(1)


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
  made = {
      "bazel4": Bazel([setup.stdout.strip().splitlines()[-1]], root / "bazel4"),
      "bzlmod": Bazel(bazel7, root / "bzlmod", "--enable_bzlmod"),
      "workspace": Bazel(bazel7, root / "workspace", "--noenable_bzlmod"),
  }
  yield made, root
  for server in made.values():
    if server.output_base.exists():
      server.run("shutdown")


@pytest.fixture(scope="module")
def bazel4_digest(servers) -> str:
  """The consumer's target built by Bazel 4.2.3 (WORKSPACE): the bytes every build must match."""
  bazel4 = servers[0]["bazel4"]
  bazel4.build(TARGET)
  return sha256(bazel4.task())


def test_bazel7_is_7_7_1(sid_root):
  result = subprocess.run(["bash", str(SCRIPT), "bazel", str(CONSUMER), "--version"],
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == "bazel 7.7.1", result.stdout


def test_bzlmod_builds_the_same_bytes_as_bazel4(servers, bazel4_digest):
  made, root = servers
  bzlmod = made["bzlmod"]
  output = bzlmod.build(TARGET, f"--disk_cache={root / 'disk_cache'}")
  assert "Quantizing" in output and "disk cache hit" not in process_summary(output)
  assert sha256(bzlmod.task()) == bazel4_digest
  # Under Bzlmod the quantizer's py_binary is rules_python's, not Bazel's native rule.
  assert bzlmod.python_rules() == "rules_python"
  # The fork's own rules_python, under MediaPipe's name for it.
  query = bzlmod.run("query", "@rules_python_bzlmod//python:py_binary.bzl")
  assert query.returncode == 0, query.stderr[-3000:]


def test_bzlmod_disk_cache_hit_after_clean(servers, bazel4_digest):
  made, root = servers
  bzlmod = made["bzlmod"]
  bzlmod.build(TARGET, f"--disk_cache={root / 'disk_cache'}")  # in the cache (again, if alone)
  assert bzlmod.run("clean").returncode == 0
  assert not bzlmod.task().exists()
  output = bzlmod.build(TARGET, f"--disk_cache={root / 'disk_cache'}")
  summary = process_summary(output)
  # Every action that ran before (the quantizer, the calibration photo) came from the disk cache.
  assert re.search(r"\b\d+ disk cache hit\b", summary), output[-3000:]
  assert not re.search(r"sandbox|\blocal\b|worker", summary), summary
  assert sha256(bzlmod.task()) == bazel4_digest


def test_bzlmod_android_arm64_config_gives_the_same_bytes(servers, bazel4_digest):
  rc = (CONSUMER / ".bazelrc").read_text()
  for line in ("build:android_arm64 --config=android", "build:android_arm64 --cpu=arm64-v8a",
               "build:android_arm64 --fat_apk_cpu=arm64-v8a",
               "build:android_arm64 --platforms=@//third_party/android:arm64-v8a"):
    assert line + "\n" in rc, f"MediaPipe's line {line!r} is missing from the consumer's .bazelrc"
  bzlmod = servers[0]["bzlmod"]
  output = bzlmod.build(TARGET, "--config=android_arm64")
  assert "Quantizing" in output
  task = bzlmod.task("--config=android_arm64")
  assert "arm64-v8a" in str(task)
  assert sha256(task) == bazel4_digest


def test_workspace_mode_builds_the_same_bytes_as_bazel4(servers, bazel4_digest):
  workspace = servers[0]["workspace"]
  output = workspace.build(TARGET, "--config=android_arm64")
  assert "Quantizing" in output
  assert sha256(workspace.task("--config=android_arm64")) == bazel4_digest
  # No rules_python in the fork's WORKSPACE: Bazel's native Python rules.
  assert workspace.python_rules() == "native"


def test_docs_show_the_module_bazel_this_test_uses():
  module = (CONSUMER / "MODULE.bazel").read_text()
  for doc in ("README.md", "docs/bazel7.md"):
    assert f"```python\n{module}```" in (REPO / doc).read_text(), f"{doc} must show {CONSUMER}/MODULE.bazel"
