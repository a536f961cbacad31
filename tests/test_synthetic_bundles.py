"""The command line on bundles the tests build: interface, metadata, entries, determinism, report."""

import io
import json
import zipfile

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import synthetic
from conftest import run_cli
from mediapipe_int8 import bundle, check, image_input, runner, tflite_file
from photos_fixture import grace_hopper


@pytest.fixture(scope="module")
def nested_bundle(tmp_path_factory):
  inner = synthetic.bundle_of({"inner_image.tflite": synthetic.image_model(signature=False)},
                              data_entry=None)
  outer = bundle.write_entries([
      bundle.Entry("image.tflite", synthetic.image_model()),
      bundle.Entry(*synthetic.DATA_ENTRY),
      bundle.Entry("points.tflite", synthetic.points_model()),
      bundle.Entry("inner.task", inner),
  ])
  path = tmp_path_factory.mktemp("in") / "nested.task"
  path.write_bytes(outer)
  return path


def _quantize(tmp_path, source, photos, *flags, name="out.task"):
  out, report = tmp_path / name, tmp_path / (name + ".json")
  process = run_cli(f"--input={source}", f"--output={out}", f"--calibration_dir={photos}",
                    "--num_calibration_samples=8", f"--report={report}", *flags)
  return out.read_bytes(), json.loads(report.read_text()), process


def _types(model_bytes):
  model = tflite_file.parse(model_bytes, "m")
  graph = model.subgraphs[0]
  return ([(graph.tensors[i].type, list(graph.tensors[i].shape)) for i in graph.inputs],
          [(graph.tensors[i].type, list(graph.tensors[i].shape)) for i in graph.outputs])


def _entries(data):
  return {e.name: e.data for e in bundle.read_entries(data, "x")}


def test_nested_bundle_int8(tmp_path, nested_bundle, photos):
  out, report, process = _quantize(tmp_path, nested_bundle, photos,
                                   "--random_calibration=points.tflite", "--prelu=int8",
                                   "--model_recipe=inner.task/inner_image.tflite=weight_only_int8")
  source = _entries(nested_bundle.read_bytes())
  result = _entries(out)
  assert list(result) == list(source)  # names and order kept
  assert result["pipeline.binarypb"] == source["pipeline.binarypb"]
  with zipfile.ZipFile(io.BytesIO(out)) as archive:
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
  assert all(o % 4 == 0 for o in bundle.data_offsets(out).values())

  for name in ("image.tflite", "points.tflite"):
    assert _types(result[name]) == _types(source[name])  # float32 in and out, same shapes
    quantized = tflite_file.parse(result[name], name)
    assert tflite_file.metadata_buffers(quantized) == tflite_file.metadata_buffers(
        tflite_file.parse(source[name], name))
    assert any(t.type == schema.TensorType.INT8 for t in quantized.subgraphs[0].tensors)
  image = tflite_file.parse(result["image.tflite"], "image")
  assert b"TFLITE_METADATA" in [m.name for m in image.metadata]

  inner = _entries(result["inner.task"])
  inner_model = tflite_file.parse(inner["inner_image.tflite"], "inner")
  assert not inner_model.signatureDefs  # the signature added for the quantizer is gone again
  assert _types(inner["inner_image.tflite"]) == _types(_entries(source["inner.task"])["inner_image.tflite"])

  by_name = {m["name"]: m for m in report["models"]}
  assert by_name["image.tflite"]["recipe"] == "int8"
  assert by_name["inner.task/inner_image.tflite"]["recipe"] == "weight_only_int8"
  assert "random" in by_name["points.tflite"]["calibration"]["source"]
  assert by_name["image.tflite"]["bytes_before"] == len(source["image.tflite"])
  assert by_name["image.tflite"]["bytes_after"] == len(result["image.tflite"])
  assert by_name["image.tflite"]["ops"]["CONV_2D"] == {"int8": 1}
  # PRELU, which the quantizer can't do, is rewritten into int8 depthwise convs and an ADD.
  assert "PRELU" not in by_name["image.tflite"]["ops"]
  assert by_name["image.tflite"]["rewrites"] == {"fused_activations": 0, "prelu_rewritten": 1}
  assert by_name["image.tflite"]["ops"]["DEPTHWISE_CONV_2D"] == {"int8": 3}
  for model in report["models"]:
    for output in model["outputs"]:
      assert output["sqnr_db"] is None or output["sqnr_db"] > 10, (model["name"], output)
  assert "image.tflite" in process.stdout and "int8" in process.stdout  # the table
  for step in ("prepare", "calibrate", "quantize", "check"):
    assert step in process.stderr


def test_quantized_model_tracks_float(tmp_path, nested_bundle, photos):
  out, _, _ = _quantize(tmp_path, nested_bundle, photos, "--random_calibration=points.tflite")
  source, result = _entries(nested_bundle.read_bytes()), _entries(out)
  reference, candidate = runner.Model(source["image.tflite"]), runner.Model(result["image.tflite"])
  image = image_input.letterbox(grace_hopper(), 32, 32)[np.newaxis].astype(np.float32) / 127.5 - 1
  want, got = reference(image)[0], candidate(image)[0]
  assert check.sqnr_db(want.astype(np.float64), got.astype(np.float64)) > 15


def test_same_input_same_bytes(tmp_path, nested_bundle, photos):
  first, report1, _ = _quantize(tmp_path, nested_bundle, photos, "--random_calibration=points.tflite",
                                name="a.task")
  second, report2, _ = _quantize(tmp_path, nested_bundle, photos, "--random_calibration=points.tflite",
                                 name="b.task")
  assert first == second
  assert report1 == report2


def test_exclude_and_none(tmp_path, nested_bundle, photos):
  out, report, _ = _quantize(tmp_path, nested_bundle, photos, "--recipe=none",
                             "--exclude=points.tflite")
  source, result = _entries(nested_bundle.read_bytes()), _entries(out)
  assert list(result) == [n for n in source if n != "points.tflite"]
  assert result["image.tflite"] == source["image.tflite"]  # none: copied unchanged
  assert {"name": "points.tflite", "action": "excluded"} in report["entries"]


def test_single_tflite_in_single_tflite_out(tmp_path, photos):
  source = tmp_path / "model.tflite"
  source.write_bytes(synthetic.image_model(signature=False))
  out, report, _ = _quantize(tmp_path, source, photos, name="model_int8.tflite")
  assert tflite_file.is_tflite(out)
  assert _types(out) == _types(source.read_bytes())
  assert report["models"][0]["name"] == "model.tflite"


@pytest.mark.parametrize("recipe", ["dynamic_int8", "int16x8"])
def test_other_recipes_keep_float_interface(tmp_path, photos, recipe):
  source = tmp_path / "model.tflite"
  source.write_bytes(synthetic.image_model())
  out, report, _ = _quantize(tmp_path, source, photos, f"--recipe={recipe}", name=f"{recipe}.tflite")
  assert _types(out) == _types(source.read_bytes())
  ops = report["models"][0]["ops"]
  wanted = {"dynamic_int8": "float, int8 weights", "int16x8": "int16"}[recipe]
  assert wanted in ops["CONV_2D"], ops


def test_dead_channels_keep_their_bias(tmp_path, photos):
  """A channel with all-zero weights outputs its bias; the quantizer's near-zero scale made that
  bias overflow int32 (output 0 instead of 2): the repair quantizes it again."""
  source = tmp_path / "dead.tflite"
  source.write_bytes(synthetic.dead_channel_model())
  out, report, _ = _quantize(tmp_path, source, photos, "--recipe=int8", name="dead_int8.tflite")
  assert report["models"][0]["rewrites"]["dead_channel_biases"] == 2
  pixels = image_input.letterbox(grace_hopper(), 32, 32)
  sample = ((pixels.astype(np.float32) - 127.5) / 127.5)[np.newaxis]
  want = runner.Model(source.read_bytes())(sample)[0]
  got = runner.Model(out)(sample)[0]
  np.testing.assert_allclose(want[..., 1], 2.0, atol=1e-6)
  np.testing.assert_allclose(got[..., 1], 2.0, atol=0.05)  # one output step of int8
  assert np.all(got[..., 3] == 0.0)
  assert np.abs(got[..., [0, 2]] - want[..., [0, 2]]).max() < 0.1 * np.abs(want).max()
