"""Bundles that are not a face or hand landmarker the tool knows: a holistic landmarker (pose, face
and hand models together) is never calibrated as a face landmarker, and a model calibrated on whole
photos because its pipeline is unknown is warned about."""

import json

import pytest

import synthetic
from conftest import run_main
from mediapipe_int8 import bundle, landmarkers

# The entry names of MediaPipe's holistic_landmarker.task.
HOLISTIC_ENTRIES = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite",
                    "hand_landmarks_detector.tflite", "hand_roi_refinement.tflite",
                    "pose_detector.tflite", "pose_landmarks_detector.tflite")


@pytest.fixture(scope="module")
def holistic_bundle(tmp_path_factory):
  models = {name: synthetic.points_model() if "blendshapes" in name else synthetic.image_model()
            for name in HOLISTIC_ENTRIES}
  path = tmp_path_factory.mktemp("in") / "holistic_landmarker.task"
  path.write_bytes(synthetic.bundle_of(models))
  return path


@pytest.mark.parametrize("names", [
    HOLISTIC_ENTRIES,
    ("face_detector.tflite", "face_landmarks_detector.tflite", "pose_detector.tflite"),
    ("holistic.tflite", "face_detector.tflite", "face_landmarks_detector.tflite"),
])
def test_holistic_is_no_face_landmarker(names):
  assert landmarkers.is_holistic(names)
  assert landmarkers.kind_of(names) is None


def test_face_and_hand_landmarkers_keep_their_kind():
  face = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite",
          "geometry_pipeline_metadata_landmarks.binarypb")
  hand = ("hand_detector.tflite", "hand_landmarks_detector.tflite")
  assert landmarkers.kind_of(face) is landmarkers.FACE
  assert landmarkers.kind_of(hand) is landmarkers.HAND
  assert not landmarkers.is_holistic(face) and not landmarkers.is_holistic(hand)


def test_holistic_refuses_calibrated_recipes(tmp_path, capsys, holistic_bundle, photos):
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={holistic_bundle}", f"--output={out}", "--recipe=int8",
                         f"--calibration_dir={photos}", "--num_calibration_samples=4")
  assert code == 1
  errors = [line for line in lines if line.startswith("error: ")]
  assert len(errors) == 1, lines
  assert errors[0].startswith(f"error: {holistic_bundle}: looks like a holistic landmarker")
  assert "weight_only_int8" in errors[0]
  assert not out.exists()


@pytest.mark.parametrize("with_photos", [False, True])
def test_holistic_weight_only_works(tmp_path, capsys, holistic_bundle, photos, with_photos):
  out, report = tmp_path / "out.task", tmp_path / "report.json"
  flags = [f"--calibration_dir={photos}", "--num_calibration_samples=4"] if with_photos else []
  code, lines = run_main(capsys, f"--input={holistic_bundle}", f"--output={out}",
                         "--recipe=weight_only_int8", f"--report={report}", *flags)
  assert code == 0, lines
  names = [e.name for e in bundle.read_entries(out.read_bytes(), "out")]
  assert names == [e.name for e in bundle.read_entries(holistic_bundle.read_bytes(), "in")]
  result = json.loads(report.read_text())
  assert {m["recipe"] for m in result["models"]} == {"weight_only_int8"}
  assert result["warnings"] == []  # nothing was calibrated, so no calibration to warn about


def test_whole_photo_fallback_warns(tmp_path, capsys, photos):
  source = tmp_path / "unknown.task"
  source.write_bytes(synthetic.bundle_of({"a.tflite": synthetic.image_model(),
                                          "face_detector.tflite": synthetic.image_model()}))
  out, report = tmp_path / "out.task", tmp_path / "report.json"
  code, lines = run_main(capsys, f"--input={source}", f"--output={out}", "--recipe=int8",
                         f"--calibration_dir={photos}", "--num_calibration_samples=4",
                         f"--report={report}")
  assert code == 0, lines
  warnings = [line for line in lines if line.startswith("warning: ")]
  # a.tflite's pipeline is unknown; a detector gets whole photos in its own pipeline too.
  assert len(warnings) == 1, lines
  assert warnings[0].startswith(f"warning: {source}/a.tflite: ") and "whole photos" in warnings[0]
  assert json.loads(report.read_text())["warnings"] == [warnings[0].removeprefix("warning: ")]
