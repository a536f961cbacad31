"""The accuracy gate in the build: `bazel test` runs mediapipe_int8_task_test in MediaPipe's runtime."""

import hashlib
import os
import pathlib
import subprocess

import numpy as np
import skimage.data
from PIL import Image

from conftest import run_cli
from mediapipe_int8 import landmarker_runtime, landmarkers

REPO = pathlib.Path(__file__).resolve().parent.parent


def bazel(*args: str) -> subprocess.CompletedProcess:
  env = {k: v for k, v in os.environ.items() if not k.startswith(("BAZEL", "USE_BAZEL"))}
  return subprocess.run([str(REPO / "tools" / "bazel"), *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)


def test_example_passes_its_gate_and_finds_the_astronaut():
  result = bazel("test", "//examples:face_landmarker_int8_test", "--test_output=all")
  assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
  overall = [l for l in result.stdout.splitlines() if l.startswith("overall: NME")]
  assert len(overall) == 1 and "faces lost 0 of 9" in overall[0], result.stdout[-3000:]
  assert "\nPASS\n" in result.stdout
  task = REPO / "bazel-bin" / "examples" / "face_landmarker_int8.task"
  with landmarker_runtime.Landmarker(landmarkers.FACE, task.read_bytes()) as landmarker:
    faces = landmarker.detect(np.asarray(skimage.data.astronaut()))
  assert len(faces) == 1
  assert 0.3 < faces[0].landmarks[:, 0].mean() < 0.6 and 0.1 < faces[0].landmarks[:, 1].mean() < 0.4


def test_hand_examples_pass_their_gates_and_find_the_hands():
  """HandLandmarker judges hand bundles; the fast one's landmarks model is full int8."""
  result = bazel("test", "//examples:hand_landmarker_int8_test",
                 "//examples:hand_landmarker_int8_fast_test", "--test_output=all")
  assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
  overall = [l for l in result.stdout.splitlines() if l.startswith("overall: NME")]
  assert len(overall) == 2 and all("hands lost 0 of 4" in l and "palm length" in l for l in overall)
  heldout = sorted((REPO / ".cache" / "inputs" / "hand_heldout").iterdir())
  for name in ("hand_landmarker_int8", "hand_landmarker_int8_fast"):
    task = REPO / "bazel-bin" / "examples" / f"{name}.task"
    with landmarker_runtime.Landmarker(landmarkers.HAND, task.read_bytes()) as landmarker:
      for path in heldout:
        hands = landmarker.detect(np.asarray(Image.open(path).convert("RGB")))
        assert len(hands) == 1 and hands[0].landmarks.shape == (21, 3), (name, path.name)


def test_hand_example_has_the_command_line_bytes(tmp_path):
  """The Bazel action and a plain command-line run, each calibrating the int8 landmarks model as a
  cascade on the same photos, write the same bytes."""
  task = REPO / "bazel-bin" / "examples" / "hand_landmarker_int8_fast.task"
  result = bazel("build", "//examples:hand_landmarker_int8_fast")
  assert result.returncode == 0, result.stderr[-3000:]
  out = tmp_path / "fast.task"
  run_cli(f"--input={REPO / '.cache' / 'inputs' / 'model' / 'hand_landmarker.task'}", f"--output={out}",
          "--model_recipe=hand_detector.tflite=weight_only_int8",
          "--model_recipe=hand_landmarks_detector.tflite=int8",
          f"--calibration_dir={REPO / '.cache' / 'inputs' / 'hand_calibration'}")
  assert out.read_bytes() == task.read_bytes()


def test_pose_example_passes_its_gate_and_has_the_command_line_bytes(tmp_path):
  """PoseLandmarker judges the pose bundle in the build (NME by torso length, every person kept),
  and the Bazel action writes what the command line writes for the same recipe and photos."""
  result = bazel("test", "//examples:pose_landmarker_int8_test", "--test_output=all")
  assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
  overall = [l for l in result.stdout.splitlines() if l.startswith("overall: NME")]
  assert len(overall) == 1 and "poses lost 0 of 5" in overall[0] and "torso length" in overall[0], \
      result.stdout[-3000:]
  assert "\nPASS\n" in result.stdout
  task = REPO / "bazel-bin" / "examples" / "pose_landmarker_int8.task"
  out = tmp_path / "pose.task"
  inputs = REPO / ".cache" / "inputs"
  run_cli(f"--input={inputs / 'model' / 'pose_landmarker_full.task'}", f"--output={out}",
          "--recipe=weight_only_int8", f"--calibration_dir={inputs / 'pose_calibration'}")
  assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(task.read_bytes()).hexdigest()
  with landmarker_runtime.Landmarker(landmarkers.POSE, task.read_bytes()) as landmarker:
    poses = landmarker.detect(np.asarray(skimage.data.astronaut()))
  assert len(poses) == 1 and poses[0].landmarks.shape[0] == 33


def test_gate_fails_a_bundle_over_its_budget_and_prints_the_numbers():
  result = bazel("test", "//tests/bazel:gate_must_fail", "--test_output=all")
  assert result.returncode == 3, result.stdout[-4000:] + result.stderr[-4000:]  # 3: a test failed
  assert "FAIL: mean NME" in result.stdout and "budget 0.01%" in result.stdout
  assert "overall: NME" in result.stdout


def test_quantize_action_over_its_budget_fails_the_build_and_leaves_nothing():
  result = bazel("build", "//tests/bazel:over_budget")
  assert result.returncode != 0
  errors = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and "exceeds the error budget" in errors[0], result.stderr[-3000:]
  assert not (REPO / "bazel-bin" / "tests" / "bazel" / "over_budget.task").exists()
