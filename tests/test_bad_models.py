"""Malformed models, one defect each: the one `error:` line a user sees, exit 1, no output.

Structure errors are found by `validate` before any engine sees the model; what only the runtime
can tell (unknown kernels, wrong options) by loading the model in a child process (`load_check`).
These run the command line's `main` in this process (after absl's own flag parsing, the same code)
so that they are quick; `test_cli_errors.py` and the fuzzer run the real command a few times.
"""

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import synthetic
from conftest import run_main
from mediapipe_int8 import load_check, tflite_file
from mediapipe_int8.errors import UserError


def _graph(model):
  return model.subgraphs[0]


def _first(model, type_):
  return next(i for i, t in enumerate(_graph(model).tensors)
              if t.type == type_ and tflite_file.is_constant(model, t))


def _op(model, name):
  return next(op for op in _graph(model).operators
              if tflite_file.op_name(tflite_file.builtin_code(model, op)) == name)


def reshape_constant(m):
  m.subgraphs[0].tensors[_first(m, schema.TensorType.FLOAT16)].shape = [8, 3, 3, 4]


def odd_float16(m):
  buffer = m.buffers[_graph(m).tensors[_first(m, schema.TensorType.FLOAT16)].buffer]
  buffer.data = buffer.data[:-1]


def negative_index(m):
  _op(m, "CONV_2D").inputs = [0, -2, 10]


def _subgraph_inputs(value):
  def mutate(m):
    _graph(m).inputs = value
  return mutate


def zero_buffers(m):
  m.buffers = []


def _metadata_bytes(data):
  def mutate(m):
    meta = next(x for x in m.metadata if x.name == b"TFLITE_METADATA")
    m.buffers[meta.buffer].data = np.frombuffer(data, np.uint8).copy()
  return mutate


def metadata_name(m):
  m.metadata[0].name = b"min_\xff_version"


def tensor_name(m):
  _graph(m).tensors[3].name = b"\xc3\x28"


def signature_index(m):
  m.signatureDefs[0].outputs[0].tensorIndex = 99


def _op_field_empty(field):
  def mutate(m):
    setattr(_op(m, "MEAN"), field, [])
  return mutate


def second_subgraph(m):
  m.subgraphs.append(m.subgraphs[0])


def self_cycle(m):
  op = _op(m, "PRELU")
  op.inputs = [int(op.outputs[0]), 7]


def unknown_builtin(m):
  code = m.operatorCodes[_op(m, "PRELU").opcodeIndex]
  code.builtinCode, code.deprecatedBuiltinCode = 900, 0


def unresolved_custom(m):
  code = m.operatorCodes[_op(m, "PRELU").opcodeIndex]
  code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
  code.customCode = b"NoSuchOp"


def _dimension(value):
  def mutate(m):
    _graph(m).tensors[12].shape = [1, 32, value, 8]
  return mutate


def scale_zero_point(m):
  q = schema.QuantizationParametersT()
  q.scale, q.zeroPoint = [0.5, 0.5], [0]
  _graph(m).tensors[12].quantization = q


def wrong_options(m):
  op = _op(m, "CONV_2D")
  op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.Pool2DOptions, schema.Pool2DOptionsT()


def dequantize_reshapes(m):
  _graph(m).tensors[8].shape = [1, 2, 3, 8]  # DEQUANTIZE's output of [1, 3, 3, 8] constant weights


def offset_one(m):
  buffer = m.buffers[_graph(m).tensors[_first(m, schema.TensorType.FLOAT16)].buffer]
  buffer.size, buffer.data, buffer.offset = len(buffer.data), None, 1


F16 = "tensor 1 ('functional_1/conv2d_1/convolution')"
CASES = {
    "shape disagrees with buffer": (reshape_constant, f"{F16}: its buffer holds 432 bytes, but shape "
                                    "[8, 3, 3, 4] of FLOAT16 needs 576"),
    "float16 odd byte count": (odd_float16, f"{F16}: its buffer holds 431 bytes, but shape "
                               "[8, 3, 3, 3] of FLOAT16 needs 432"),
    "negative tensor index": (negative_index, "operator 5 (CONV_2D) reads tensor -2, which does not "
                              "exist (17 tensors)"),
    "subgraph input out of range": (_subgraph_inputs([17]), "subgraph inputs name tensor 17, which "
                                    "does not exist (17 tensors)"),
    "subgraph input negative": (_subgraph_inputs([-1]), "subgraph inputs name tensor -1, which does "
                                "not exist (17 tensors)"),
    "subgraph without inputs": (_subgraph_inputs([]), "the subgraph has no inputs"),
    "zero buffers": (zero_buffers, "TFLite model has no buffers (buffer 0, the empty one, is required)"),
    "garbage metadata": (_metadata_bytes(b"\x99" * 40), "metadata TFLITE_METADATA is not a TFLite "
                         "metadata flatbuffer (40 bytes, no M001 identifier)"),
    "3-byte metadata": (_metadata_bytes(b"abc"), "metadata TFLITE_METADATA is not a TFLite metadata "
                        "flatbuffer (3 bytes, no M001 identifier)"),
    "metadata name not UTF-8": (metadata_name, "a metadata name is not valid UTF-8"),
    "tensor name not UTF-8": (tensor_name, "tensor 3's name is not valid UTF-8"),
    "signature index out of range": (signature_index, "signature 'serving_default' maps "
                                     "'output_0' to tensor 99, which does not exist (17 tensors)"),
    "operator without inputs": (_op_field_empty("inputs"), "operator 8 (MEAN) has no inputs"),
    "operator without outputs": (_op_field_empty("outputs"), "operator 8 (MEAN) has no outputs"),
    "second subgraph": (second_subgraph, "TFLite model has 2 subgraphs; only models with one "
                        "subgraph are supported"),
    "op feeds itself": (self_cycle, "operator 7 (PRELU) reads tensor 14 ('functional_1/p_re_lu_1/add;"
                        "functional_1/p_re_lu_1/Relu;functional_1/p_re_lu_1/Neg_1;functional_1/"
                        "p_re_lu_1/Relu_1;functional_1/p_re_lu_1/mul2') before any operator writes it "
                        "(a cycle, or operators out of order)"),
    "unknown builtin": (unknown_builtin, "operator code 3 is 900, not a TFLite builtin operator"),
    "zero dimension": (_dimension(0), "tensor 12 ('functional_1/conv2d_1/Relu;functional_1/conv2d_1/"
                       "convolution') has shape [1, 32, 0, 8]: every dimension must be between 1 "
                       "and 2147483647"),
    "negative dimension": (_dimension(-4), "tensor 12 ('functional_1/conv2d_1/Relu;functional_1/"
                           "conv2d_1/convolution') has shape [1, 32, -4, 8]: every dimension must be "
                           "between 1 and 2147483647"),
    "2^31-1 dimension": (_dimension(2**31 - 1), "tensor 12 ('functional_1/conv2d_1/Relu;functional_1/"
                         "conv2d_1/convolution') has shape [1, 32, 2147483647, 8]: 2199023254528 bytes, "
                         "more than TFLite holds"),
    "scales and zero points differ": (scale_zero_point, "tensor 12 ('functional_1/conv2d_1/Relu;"
                                      "functional_1/conv2d_1/convolution') has 2 quantization scales "
                                      "but 1 zero points"),
    "dequantize changes the shape": (dequantize_reshapes, "operator 1 (DEQUANTIZE) turns tensor 5 of "
                                     "shape [1, 3, 3, 8] into tensor 8 of shape [1, 2, 3, 8]; it "
                                     "keeps the shape"),
    "buffer offset 1": (offset_one, "buffer 2 has offset 1, which TFLite reads as no data (432 bytes "
                        "would be lost)"),
}
RUNTIME_CASES = {  # the schema allows them; the runtime refuses them
    "unresolved custom op": (unresolved_custom, "Encountered unresolved custom op: NoSuchOp"),
    "wrong options": (wrong_options, "failed to prepare"),
}


def _bundle(tmp_path, mutation) -> str:
  model = tflite_file.parse(synthetic.image_model(), "seed")
  mutation(model)
  path = tmp_path / "m.task"
  path.write_bytes(synthetic.bundle_of({"m.tflite": tflite_file.serialize(model)}))
  return str(path)


@pytest.mark.parametrize("recipe", ["weight_only_int8", "dynamic_int8"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_model(tmp_path, capsys, case, recipe):
  mutation, message = CASES[case]
  source = _bundle(tmp_path, mutation)
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={source}", f"--output={out}", f"--recipe={recipe}")
  assert (code, lines) == (1, [f"error: {source}/m.tflite: {message}"])
  assert not out.exists()


@pytest.mark.parametrize("case", sorted(RUNTIME_CASES))
def test_model_the_runtime_refuses(tmp_path, capsys, case):
  mutation, fragment = RUNTIME_CASES[case]
  source = _bundle(tmp_path, mutation)
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={source}", f"--output={out}", "--recipe=weight_only_int8")
  assert code == 1 and len(lines) == 1, lines
  assert lines[0].startswith(f"error: {source}/m.tflite: the TFLite runtime cannot load it ("), lines
  assert fragment in lines[0]
  assert not out.exists()


def test_int8_refuses_before_calibrating(tmp_path, capsys):
  """With a calibrated recipe, the same line comes before any photo is read."""
  source = _bundle(tmp_path, self_cycle)
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={source}", f"--output={out}", "--recipe=int8",
                         f"--calibration_image={tmp_path}/none.jpg")
  assert (code, lines[-1:]) == (1, [f"error: {source}/m.tflite: {CASES['op feeds itself'][1]}"])
  assert not out.exists()


def test_runtime_crash_names_the_model(monkeypatch):
  """A model on which the runtime aborts (as one that feeds itself did in calibration) is an error
  naming it, and the models after it are still loaded."""
  def command(paths):
    script = ("import os, signal, sys\n"
              "print('start 0', flush=True)\n"
              "os.kill(os.getpid(), signal.SIGABRT)\n") if len(paths) == 2 else \
             "print('start 0'); print('ok 0')"
    return ["python3", "-c", script]
  monkeypatch.setattr(load_check, "child_command", command)
  model = synthetic.image_model()
  assert load_check.failures([("a.tflite", model), ("b.tflite", model)]) == {
      "a.tflite": "the runtime crashed: SIGABRT"}
  with pytest.raises(UserError, match=r"^a.tflite: the TFLite runtime cannot load it \(the runtime "
                     r"crashed: SIGABRT\)$"):
    load_check.check_loads([("a.tflite", model), ("b.tflite", model)])
