"""The quantize action is portable: its key holds no path of the machine or the checkout.

Two copies of this repository at different paths, each with its own output base and its own
Python store, share one disk cache: the second copy's quantize action is a cache hit, and every
input it sees has the same path and digest as the first's. A changed pin in
third_party/requirements.lock changes the inputs and runs the action again. And a Python that
lacks a pinned package fails the build with one line that names it.
"""

import pathlib
import re
import shutil
import subprocess

import pytest

from bazel_output import Bazel, input_digests, process_summary, sha256, spawn_writing

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL = "//tests/bazel:face_landmarker_small"
SMALL_TASK = "tests/bazel/face_landmarker_small.task"
LOCK = "third_party/requirements.lock"
# Another version of a package the lock pins, with its wheel's sha256 (PyPI).
SIX = ("six==1.17.0", "six==1.16.0",
       "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254")


def copy_checkout(dest: pathlib.Path) -> pathlib.Path:
  """The files git tracks (as they are in the working tree), as a fresh clone would have them."""
  listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
  for name in listed.stdout.decode().split("\0"):
    if name and (REPO / name).exists():
      (dest / name).parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(REPO / name, dest / name, follow_symlinks=False)
  return dest


@pytest.fixture(scope="module")
def clones(real_bazel, tmp_path_factory):
  """Two checkouts at different paths and depths, each with its own Python store."""
  root = tmp_path_factory.mktemp("clones")
  made = []
  for path, store in (("a/mediapipe_int8", "store_a"), ("b/deeper/checkout", "store_b")):
    workspace = copy_checkout(root / path)
    made.append(Bazel([real_bazel], workspace, root / f"{path.split('/')[0]}_output_base",
                      env={"MEDIAPIPE_INT8_PYTHON_STORE": str(root / store)}))
  yield made, root
  for server in made:
    server.shutdown()


def quantize_spawn(server: Bazel, log: pathlib.Path, *flags: str) -> tuple[dict, str]:
  output = server.build(SMALL, f"--execution_log_json_file={log}", *flags)
  return spawn_writing(log, SMALL_TASK), output


def test_second_checkout_gets_a_cache_hit_with_the_same_inputs(clones):
  (first, second), root = clones
  cache = f"--disk_cache={root / 'disk_cache'}"
  ran, _ = quantize_spawn(first, root / "first.json", cache)
  assert not ran.get("remoteCacheHit", False)

  hit, output = quantize_spawn(second, root / "second.json", cache)
  assert hit.get("remoteCacheHit") is True, output[-3000:]
  assert "remote cache hit" in process_summary(output)
  assert sha256(second.bin_dir() / SMALL_TASK) == sha256(first.bin_dir() / SMALL_TASK)
  inputs = input_digests(ran)
  assert inputs == input_digests(hit)
  # The Python environment is among the inputs, by content: interpreter and packages.
  assert any(p.endswith("/python/bin/python3.11") for p in inputs)
  assert any(p.endswith("/site-packages/numpy/__init__.py") for p in inputs)
  assert not any(str(root) in p or p.startswith("/") for p in inputs), "a machine path"


def test_a_changed_pin_changes_the_action(clones):
  (_, second), root = clones
  old, new, digest = SIX
  lock = second.workspace / LOCK
  text = lock.read_text()
  pinned = re.search(rf"^{re.escape(old)} \\\n    --hash=sha256:[0-9a-f]{{64}}\n", text, re.M)
  assert pinned, f"{LOCK} no longer pins {old}: update this test"
  lock.write_text(text.replace(pinned.group(0), f"{new} \\\n    --hash=sha256:{digest}\n"))

  before = input_digests(spawn_writing(root / "second.json", SMALL_TASK))
  spawn, _ = quantize_spawn(second, root / "pin.json", f"--disk_cache={root / 'disk_cache'}")
  assert not spawn.get("remoteCacheHit", False), "a new pin must not reuse the old result"
  after = input_digests(spawn)
  changed = {p for p in before.keys() & after.keys() if before[p] != after[p]}
  assert any(p.endswith("/site-packages/six.py") for p in changed), sorted(changed)[:20]
  assert any(p.endswith("LOCK") for p in changed)


def test_a_python_without_the_pinned_packages_fails_with_one_line(clones):
  """A fork may register its own Python for the quantizer; without the lock's packages, the
  build names the interpreter and the first missing package."""
  (first, _), _ = clones
  result = first.run("build", "//tests/bazel:face_landmarker_small",
                     "--extra_toolchains=//tests/bazel:bare_python_toolchain")
  output = result.stdout + result.stderr
  assert result.returncode != 0
  errors = [line for line in output.splitlines() if line.startswith("error: ")]
  assert errors and set(errors) == {errors[0]}, output[-4000:]
  assert re.fullmatch(r"error: \S*tests/bazel/bare_python3: no package absl-py "
                      r"\(the lock pins absl-py==[\d.]+\)", errors[0]), errors[0]
  assert "Traceback" not in output
