"""Google's face_landmarker.task end to end: quantize, load in MediaPipe, compare with float.

Calibration uses the photos of third_party/inputs.tsv's calibration set; accuracy is judged on
other people (the held-out set and scikit-image's astronaut). Bounds are the measured values on
this machine with a margin (README, "Accuracy"); float's own one-pixel jitter on the same faces
is 1.31% NME.
"""

import io
import zipfile

import numpy as np
import pytest
import skimage.data

from conftest import ROOT, gate_on, quantize_with_report, run_cli, run_gate
from mediapipe_int8 import bundle, evaluate, landmarkers, photos, tflite_file

CALIBRATION = ROOT / ".cache" / "inputs" / "calibration"
HELDOUT = ROOT / ".cache" / "inputs" / "heldout"

# recipe: (max bundle share of float, max mean NME, max faces lost of 10, max astronaut mean px)
BOUNDS = {
    "weight_only_int8": (0.60, 0.016, 0, 1.0),
    "int8": (0.72, 0.07, 2, 12.0),
}


@pytest.fixture(scope="module")
def heldout_photos():
  listed = photos.load(sorted(str(p) for p in HELDOUT.glob("*.jpg")))
  assert len(listed) == 5, "run tools/test: it fetches the held-out photos"
  return listed + [photos.Photo("astronaut.png", np.asarray(skimage.data.astronaut()))]


@pytest.fixture(scope="module")
def float_faces(face_landmarker_task, heldout_photos):
  return evaluate.detect_all(landmarkers.FACE, face_landmarker_task.read_bytes(), heldout_photos,
                             blendshapes=True)


@pytest.fixture(scope="module", params=sorted(BOUNDS))
def quantized(request, face_landmarker_task, tmp_path_factory):
  data, report = quantize_with_report(face_landmarker_task, request.param, CALIBRATION,
                                      tmp_path_factory.mktemp(request.param))
  return request.param, data, report


def test_float_finds_every_heldout_face(float_faces):
  assert [len(f) for f in float_faces] == [1, 1, 1, 2, 4, 1]


def test_mediapipe_loads_it_and_it_keeps_float_answers(quantized, float_faces, heldout_photos,
                                                        face_landmarker_task):
  recipe, data, _ = quantized
  max_share, max_nme, max_lost, max_astronaut_px = BOUNDS[recipe]
  assert len(data) <= max_share * face_landmarker_task.stat().st_size
  faces = evaluate.detect_all(landmarkers.FACE, data, heldout_photos, blendshapes=True)
  assert faces[-1], "the quantized bundle finds no face in the astronaut photo"
  comparison = evaluate.compare(landmarkers.FACE, float_faces, faces, heldout_photos)
  print(recipe, comparison.as_dict())
  assert comparison.lost <= max_lost
  assert comparison.mean_nme <= max_nme
  astronaut = [f for f in comparison.found if f.photo == "astronaut.png"]
  assert astronaut and astronaut[0].mean_px <= max_astronaut_px


def test_bundle_layout_and_entries(quantized, face_landmarker_task):
  _, data, _ = quantized
  source = bundle.read_entries(face_landmarker_task.read_bytes(), "float")
  result = bundle.read_entries(data, "int8")
  assert [e.name for e in result] == [e.name for e in source]
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
  assert all(offset % 4 == 0 for offset in bundle.data_offsets(data).values())
  for want, got in zip(source, result):
    if not want.name.endswith(".tflite"):
      assert got.data == want.data
      continue
    want_model, got_model = tflite_file.parse(want.data, want.name), tflite_file.parse(got.data, got.name)
    assert tflite_file.metadata_buffers(got_model) == tflite_file.metadata_buffers(want_model)
    for kind in ("inputs", "outputs"):
      ends = lambda m: [(m.subgraphs[0].tensors[i].type, list(m.subgraphs[0].tensors[i].shape))
                        for i in getattr(m.subgraphs[0], kind)]
      assert ends(got_model) == ends(want_model)


def test_report_says_what_happened(quantized):
  recipe, data, report = quantized
  assert report["output_bytes"] == len(data)
  models = {m["name"]: m for m in report["models"]}
  assert set(models) == {"face_detector.tflite", "face_landmarks_detector.tflite",
                         "face_blendshapes.tflite"}
  landmarks = models["face_landmarks_detector.tflite"]
  assert 0 < landmarks["landmarks_px"]["mean"] < landmarks["landmarks_px"]["max"]
  assert [o["name"] for o in landmarks["outputs"]] == ["Identity", "Identity_1", "Identity_2"]
  assert "face crops" in landmarks["calibration"]["source"]
  conv = models["face_detector.tflite"]["ops"]["CONV_2D"]
  assert conv == ({"int8": 21} if recipe == "int8" else {"float, int8 weights": 21})


def test_same_bytes_on_a_second_run(quantized, face_landmarker_task, tmp_path):
  recipe, data, _ = quantized
  out = tmp_path / "again.task"
  run_cli(f"--input={face_landmarker_task}", f"--output={out}", f"--recipe={recipe}",
          f"--calibration_dir={CALIBRATION}")
  assert out.read_bytes() == data


def test_accuracy_gate_passes_weight_only_and_fails_int8(quantized, face_landmarker_task, tmp_path):
  """The gate's default budget is float's own one-pixel jitter on the photos it is given."""
  recipe, data, _ = quantized
  process, overall = gate_on(face_landmarker_task, data, sorted(HELDOUT.glob("*.jpg")), tmp_path)
  assert " of 9" in overall
  if recipe == "weight_only_int8":
    assert "faces lost 0 of 9" in overall
    assert process.returncode == 0 and process.stdout.rstrip().endswith("PASS")
  else:  # measured 4.4% NME against float's 1.4%, and one face of the nine lost
    assert process.returncode == 1 and "FAIL: mean NME" in process.stdout


def test_int8_blendshapes_model_keeps_its_input_normalisation_float(face_landmarker_task, tmp_path):
  """The blendshapes model's 11 normalisation ops (no MACs) stay float, so int8 starts at unit-scale
  values instead of 0..608 px in 2.4 px steps. Measured: held-back max score change 0.13 (0.47
  with them in int8); end to end on the held-out people with the other models float, a largest
  blendshape change of 0.296 (0.941 with them int8) against float's own one-pixel 0.456."""
  out = tmp_path / "blendshapes_int8.task"
  report_path = tmp_path / "report.json"
  run_cli(f"--input={face_landmarker_task}", f"--output={out}", "--recipe=none",
          "--model_recipe=face_blendshapes.tflite=int8", f"--calibration_dir={CALIBRATION}",
          f"--report={report_path}")
  import json
  model = {m["name"]: m for m in json.loads(report_path.read_text())["models"]}["face_blendshapes.tflite"]
  for op in ("DIV", "SQRT", "SUM"):
    assert model["ops"][op] == {"float": 1}, model["ops"]
  assert model["ops"]["CONV_2D"] == {"int8": sum(model["ops"]["CONV_2D"].values())}
  assert model["outputs"][0]["max_abs_error"] < 0.2
  process = run_gate(face_landmarker_task, out, sorted(HELDOUT.glob("*.jpg")))
  assert process.returncode == 0, process.stdout
  overall = [l for l in process.stdout.splitlines() if l.startswith("overall: ")][0]
  assert float(overall.split("blendshapes ")[1].split()[0]) <= 0.4, overall
