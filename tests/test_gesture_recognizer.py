"""Google's gesture_recognizer.task, a bundle of two bundles: quantized, it still loads in MediaPipe's
GestureRecognizer and names the same gestures as float.

The recognizer needs its classifier's labels.txt, an associated file that TFLite metadata keeps in a
zip archive appended after the model's flatbuffer. Float's own gestures on the hand photos: Open_Palm
on two held-out photos, None on the rest but two fists (Thumb_Down).
"""

import io
import struct
import zipfile

import numpy as np
import pytest

from conftest import ROOT, quantize_with_report, run_cli
from mediapipe_int8 import bundle, photos

HAND_PHOTOS = ROOT / ".cache" / "inputs"
GESTURE_MODELS = ("hand_gesture_recognizer.task/gesture_embedder.tflite",
                  "hand_gesture_recognizer.task/canned_gesture_classifier.tflite")


def _recognize(task: bytes, judged: list[photos.Photo]) -> list[list[tuple[str, float]]]:
  import mediapipe as mp
  from mediapipe.tasks.python import vision
  from mediapipe.tasks.python.core import base_options

  options = vision.GestureRecognizerOptions(
      base_options=base_options.BaseOptions(model_asset_buffer=task),
      running_mode=vision.RunningMode.IMAGE)
  with vision.GestureRecognizer.create_from_options(options) as recognizer:
    out = []
    for photo in judged:
      result = recognizer.recognize(mp.Image(image_format=mp.ImageFormat.SRGB,
                                             data=np.ascontiguousarray(photo.pixels)))
      out.append([(g[0].category_name, g[0].score) for g in result.gestures])
  return out


def _models(bundle_bytes: bytes) -> dict[str, bytes]:
  """Every .tflite of the bundle of bundles, as 'inner.task/model.tflite'."""
  return {f"{outer.name}/{inner.name}": inner.data
          for outer in bundle.read_entries(bundle_bytes, "outer")
          for inner in bundle.read_entries(outer.data, outer.name)}


@pytest.fixture(scope="module")
def judged():
  listed = photos.load(sorted(str(p) for role in ("hand_heldout", "hand_calibration")
                              for p in (HAND_PHOTOS / role).iterdir()))
  assert len(listed) == 12, "run tools/test: it fetches the hand photos"
  return listed


@pytest.fixture(scope="module")
def float_gestures(gesture_recognizer_task, judged):
  return _recognize(gesture_recognizer_task.read_bytes(), judged)


@pytest.fixture(scope="module")
def weight_only(gesture_recognizer_task, tmp_path_factory):
  data, _ = quantize_with_report(gesture_recognizer_task, "weight_only_int8",
                                 HAND_PHOTOS / "hand_calibration", tmp_path_factory.mktemp("wo"))
  return data


def test_float_names_gestures(float_gestures, judged):
  names = {p.name: [g[0] for g in gestures] for p, gestures in zip(judged, float_gestures)}
  assert names["Histogram_Comparison_Source_0.jpg"] == ["Open_Palm"]
  assert sum(n == ["Thumb_Down"] for n in names.values()) == 2


def test_weight_only_names_the_same_gestures(weight_only, float_gestures, judged, gesture_recognizer_task):
  assert len(weight_only) < 0.56 * gesture_recognizer_task.stat().st_size  # measured 54%
  gestures = _recognize(weight_only, judged)
  assert [[g[0] for g in p] for p in gestures] == [[g[0] for g in p] for p in float_gestures]
  # Measured: every score within 0.01 of float's.
  assert max(abs(a[1] - b[1]) for p, q in zip(gestures, float_gestures) for a, b in zip(p, q)) < 0.03


def test_associated_files_are_carried_with_offsets_that_zip_readers_accept(weight_only,
                                                                            gesture_recognizer_task):
  source, result = _models(gesture_recognizer_task.read_bytes()), _models(weight_only)
  assert source.keys() == result.keys()
  carried = 0
  for name, original in source.items():
    try:
      with zipfile.ZipFile(io.BytesIO(original)) as files:
        want = {n: files.read(n) for n in files.namelist()}
    except zipfile.BadZipFile:
      want = {}
    if not want:
      continue
    data = result[name]
    with zipfile.ZipFile(io.BytesIO(data)) as files:
      assert {n: files.read(n) for n in files.namelist()} == want, name
    # The central directory sits where its end record says: minizip (MediaPipe) refuses an
    # archive that starts before its offsets.
    end = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<II", data[end + 12:end + 20])
    assert end - size == offset, name
    carried += 1
  assert carried == 3  # hand detector, hand landmarks and the gesture classifier have labels


def test_int8_hand_models_keep_the_gestures_on_held_out_hands(gesture_recognizer_task, float_gestures,
                                                               judged, tmp_path):
  """The inner hand landmarker in int8 (calibrated as a cascade on the calibration hands), the
  gesture models weight-only (their input is landmarks, not a photo)."""
  out = tmp_path / "int8.task"
  run_cli(f"--input={gesture_recognizer_task}", f"--output={out}", "--recipe=int8",
          *[f"--model_recipe={m}=weight_only_int8" for m in GESTURE_MODELS],
          f"--calibration_dir={HAND_PHOTOS / 'hand_calibration'}")
  gestures = _recognize(out.read_bytes(), judged)
  held_out = [i for i, p in enumerate(judged) if (HAND_PHOTOS / "hand_heldout" / p.name).exists()]
  # Measured: the same gesture on every held-out hand it finds; the int8 detector loses the hand in
  # the very dark photo, as in hand_landmarker.task.
  kept = [i for i in held_out if gestures[i]]
  assert len(kept) >= 3
  assert all(gestures[i][0][0] == float_gestures[i][0][0] for i in kept)
