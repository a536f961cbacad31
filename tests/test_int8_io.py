"""--io=int8: a single .tflite with int8 inputs and outputs, for integer-only accelerators.

The face detector of Google's face landmarker, calibrated on the calibration photos, is run in
LiteRT as an NPU user would: a held-out photo quantized with the input's recorded scale and zero
point, the int8 outputs dequantized with theirs, compared with the float model on the same input.
"""

import json

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert
from PIL import Image

from conftest import ROOT, run_cli, run_main
from mediapipe_int8 import bundle, image_input

CALIBRATION = ROOT / ".cache" / "inputs" / "calibration"
HELDOUT_PHOTO = ROOT / ".cache" / "inputs" / "heldout" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def face_detector(face_landmarker_task, tmp_path_factory):
  entries = {e.name: e.data for e in bundle.read_entries(face_landmarker_task.read_bytes(), "face")}
  path = tmp_path_factory.mktemp("in") / "face_detector.tflite"
  path.write_bytes(entries["face_detector.tflite"])
  return path


@pytest.fixture(scope="module")
def quantized(face_detector, tmp_path_factory):
  """(model bytes, report) of two runs: the second must give the same bytes."""
  runs = []
  for name in ("a", "b"):
    out_dir = tmp_path_factory.mktemp(name)
    out, report = out_dir / "face_detector_int8.tflite", out_dir / "report.json"
    run_cli(f"--input={face_detector}", f"--output={out}", "--io=int8",
            f"--calibration_dir={CALIBRATION}", f"--report={report}")
    runs.append((out.read_bytes(), json.loads(report.read_text())))
  assert runs[0][0] == runs[1][0], "same input, different bytes"
  assert runs[0][1] == runs[1][1]
  return runs[0]


def _run(model: bytes, value: np.ndarray) -> tuple[list[np.ndarray], list[dict], list[dict]]:
  interpreter = litert.Interpreter(model_content=model, num_threads=1)
  interpreter.allocate_tensors()
  inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
  interpreter.set_tensor(inputs[0]["index"], value)
  interpreter.invoke()
  return [interpreter.get_tensor(d["index"]).copy() for d in outputs], inputs, outputs


def _heldout_input() -> np.ndarray:
  """The held-out photo letterboxed to 128 x 128, normalised as the metadata says (to [-1, 1])."""
  pixels = np.asarray(Image.open(HELDOUT_PHOTO).convert("RGB"))
  return (image_input.letterbox(pixels, 128, 128)[np.newaxis].astype(np.float32) - 127.5) / 127.5


def test_inputs_and_outputs_are_int8_with_recorded_parameters(quantized):
  model, report = quantized
  (entry,) = report["models"]
  assert entry["static"]["io"] == "int8"
  interpreter = litert.Interpreter(model_content=model)
  for kind, details in (("inputs", interpreter.get_input_details()),
                        ("outputs", interpreter.get_output_details())):
    recorded = entry["io"][kind]
    assert [r["name"] for r in recorded] == [d["name"] for d in details]
    for r, d in zip(recorded, details):
      assert d["dtype"] == np.int8 and r["dtype"] == "INT8"
      scale, zero_point = d["quantization"]
      assert scale > 0
      assert np.float32(r["scale"]) == np.float32(scale)  # written exactly, not rounded
      assert r["zero_point"] == zero_point
  assert [r["shape"] for r in entry["io"]["inputs"]] == [[1, 128, 128, 3]]
  assert [r["shape"] for r in entry["io"]["outputs"]] == [[1, 896, 16], [1, 896, 1]]
  # The held-back comparison ran through quantize/dequantize: errors in float units, finite.
  assert [o["name"] for o in entry["outputs"]] == ["regressors", "classificators"]
  assert all(np.isfinite(o["max_abs_error"]) for o in entry["outputs"])


def test_int8_model_tracks_float_on_a_heldout_photo(quantized, face_detector):
  model, report = quantized
  params = report["models"][0]["io"]
  value = _heldout_input()
  (want_boxes, want_scores), _, _ = _run(face_detector.read_bytes(), value)

  p = params["inputs"][0]
  q = np.clip(np.round(value / p["scale"]) + p["zero_point"], -128, 127).astype(np.int8)
  raw, _, _ = _run(model, q)
  got_boxes, got_scores = (np.float32(o["scale"]) * (r.astype(np.float32) - o["zero_point"])
                           for r, o in zip(raw, params["outputs"]))

  # The face: the float model's best anchor is the int8 model's too, with nearly the same score
  # and box. Measured on this photo: score 0.949 float, 0.956 int8; box and keypoint offsets
  # within 2.7 px of float, 2.1 steps of the regressors' 1.25 px scale.
  best = int(want_scores.ravel().argmax())
  assert int(got_scores.ravel().argmax()) == best
  def sigmoid(logits):
    return 1 / (1 + np.exp(-np.clip(logits, -20, 20)))
  assert abs(sigmoid(want_scores.ravel()[best]) - sigmoid(got_scores.ravel()[best])) < 0.05
  steps = np.abs(want_boxes[0, best] - got_boxes[0, best]).max() / params["outputs"][0]["scale"]
  assert steps <= 4, steps


def test_refused_for_a_task_bundle(tmp_path, face_landmarker_task):
  out = tmp_path / "out.task"
  process = run_cli(f"--input={face_landmarker_task}", f"--output={out}", "--io=int8",
                    f"--calibration_dir={CALIBRATION}", check=False)
  assert process.returncode == 1
  lines = process.stderr.splitlines()
  assert len(lines) == 1, process.stderr
  assert lines[0].startswith(f"error: {face_landmarker_task}: --io=int8 ")
  assert "Type mismatch for input tensor ... got INT8" in lines[0]
  assert not out.exists()


@pytest.mark.parametrize("recipe", ["weight_only_int8", "dynamic_int8", "int16x8", "auto"])
def test_refused_without_calibrated_int8_activations(tmp_path, capsys, face_detector, recipe):
  out = tmp_path / "out.tflite"
  code, lines = run_main(capsys, f"--input={face_detector}", f"--output={out}", "--io=int8",
                         f"--recipe={recipe}", f"--calibration_dir={CALIBRATION}")
  assert code == 1
  assert len(lines) == 1, lines
  assert lines[0].startswith(f"error: {face_detector}: --io=int8 needs calibrated int8 activations")
  assert recipe in lines[0]
  assert not out.exists()


def test_refused_with_output_templates(tmp_path, capsys, face_detector):
  out = tmp_path / "out.tflite"
  code, lines = run_main(capsys, f"--input={face_detector}", f"--output={out}", "--io=int8",
                         "--reconstruct_steps=1", f"--calibration_dir={CALIBRATION}")
  assert (code, len(lines)) == (1, 1), lines
  assert lines[0].startswith(f"error: {face_detector}: --io=int8 ") and "--reconstruct_steps" in lines[0]
  assert not out.exists()
