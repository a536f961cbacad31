"""prepare.py: the four rewrites make Google's models quantizable and keep outputs bit-identical."""

import zipfile

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import synthetic
from mediapipe_int8 import prepare, runner, tflite_file


def _outputs(model_bytes: bytes, seed: int):
  model = runner.Model(model_bytes)
  interpreter_inputs = model._inputs  # shapes of the model's own inputs
  rng = np.random.default_rng(seed)
  arrays = [rng.uniform(-1, 1, d["shape"]).astype(np.float32) for d in interpreter_inputs]
  return model(*arrays)


def _check_prepared(original: bytes, name: str):
  prepared = prepare.prepare(tflite_file.parse(original, name))
  model = prepared.model
  out = tflite_file.serialize(model)
  for seed in range(3):
    for want, got in zip(_outputs(original, seed), _outputs(out, seed), strict=True):
      np.testing.assert_array_equal(want, got)
  graph = model.subgraphs[0]
  assert not any(t.type == schema.TensorType.FLOAT16 for t in graph.tensors)
  assert not any(tflite_file.builtin_code(model, op) == schema.BuiltinOperator.DEQUANTIZE
                 for op in graph.operators)
  used = {i for op in graph.operators for i in list(op.inputs) + list(op.outputs)}
  used |= set(graph.inputs) | set(graph.outputs)
  used.discard(-1)  # an absent optional input
  assert used == set(range(len(graph.tensors))), "a tensor nothing uses is left"
  assert all(c.builtinCode == max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes)
  assert [s.signatureKey for s in model.signatureDefs] == [b"serving_default"]
  assert tflite_file.metadata_buffers(model) == tflite_file.metadata_buffers(tflite_file.parse(original, name))
  return prepared


@pytest.mark.parametrize("signature", [True, False])
def test_synthetic_float16_model(signature):
  prepared = _check_prepared(synthetic.image_model(signature=signature), "synthetic.tflite")
  assert prepared.folded_float16 == 5
  assert prepared.added_signature == (not signature)


@pytest.mark.parametrize("entry, folded", [("face_detector.tflite", 74),
                                           ("face_landmarks_detector.tflite", 251),
                                           ("face_blendshapes.tflite", 49)])
def test_google_face_landmarker_models(face_landmarker_task, entry, folded):
  with zipfile.ZipFile(face_landmarker_task) as archive:
    original = archive.read(entry)
  prepared = _check_prepared(original, entry)
  assert prepared.folded_float16 == folded


def test_old_schema_operator_codes_are_normalised(face_landmarker_task):
  with zipfile.ZipFile(face_landmarker_task) as archive:
    model = tflite_file.parse(archive.read("face_detector.tflite"), "face_detector.tflite")
  assert all(c.builtinCode == 0 for c in model.operatorCodes)  # the old schema's state
  prepare.normalize_operator_codes(model)
  assert {tflite_file.op_name(c.builtinCode) for c in model.operatorCodes} >= {"CONV_2D", "DEPTHWISE_CONV_2D"}
