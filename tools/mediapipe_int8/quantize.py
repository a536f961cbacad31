"""Runs ai-edge-quantizer on a prepared float model and restores the model's interface.

The quantizer renames output tensors (`<name>_dequant`) and keeps the signature
that preparation added; both are put back as the source model had them, so
the output model differs from the source only inside.
"""

import dataclasses

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_quantizer import quantizer

from mediapipe_int8 import bias_correction, dead_channels, head, prepare, ranges, recipes, rewrite
from mediapipe_int8 import tflite_file


@dataclasses.dataclass(frozen=True)
class StaticOptions:
  """Choices of the calibrated (int8, int16x8) recipes: range estimation, PRELU handling, output
  templates (head.py), for int8, training steps of learned int8 (reconstruct.py; 0: none), and
  the model's input and output type (recipes.IO_TYPES; int8 only with the int8 recipe)."""
  method: str = "percentile"
  percentile: float = ranges.DEFAULT_PERCENTILE
  prelu: str = "float"  # rewrite.PRELU_MODES
  rewrites: bool = True  # False: quantize the graph as it is, to measure what the rewrites buy
  output_templates: bool = False  # head.py; on with reconstruct_steps (options.py)
  reconstruct_steps: int = 0
  # (name, value) pairs that replace reconstruct.Options' defaults, e.g. (("block_weight", 0.0),)
  reconstruct_overrides: tuple[tuple[str, object], ...] = ()
  io: str = "float"


class Quantization:
  """One prepared float model, ready to be quantized with several recipes.

  Integer recipes quantize a copy rewritten for integer kernels (same float outputs), with
  activation ranges observed once on the calibration samples and reused by every build.
  """

  def __init__(self, prepared: prepare.Preparation, source: str,
               static_options: StaticOptions = StaticOptions(),
               calibration: list[list[np.ndarray]] | None = None,
               clamps: dict[str, tuple[float, float]] | None = None,
               unquantized_scopes: frozenset[str] = frozenset(), correct_biases: bool = False):
    self.prepared = prepared
    self.unquantized_scopes = unquantized_scopes  # ops every recipe leaves float (landmarkers.py)
    self.source = source
    self.float_bytes = tflite_file.serialize(prepared.model)
    self._static_options = static_options
    self._calibration = calibration
    self._clamps = clamps or {}
    self._correct_biases = correct_biases  # bias_correction.py, before ranges are observed
    self._integer = None  # (rewritten float bytes, its model, rewrites, qsvs), made on first use
    self._learned = {}  # int8 activations or not -> the same after training, made on first use
    self._templates = {}  # output position -> template folded out of it (head.py)

  def integer_model(self):
    if self._integer is None:
      model = tflite_file.parse(self.float_bytes, self.source)
      rewrites = (rewrite.for_integer_kernels(model, self._static_options.prelu)
                  if self._static_options.rewrites else {})
      prepare.prune(model)
      if self._static_options.output_templates:
        self._templates = head.templates(model, self._calibration)
        head.fold(model, self._templates)
        rewrites = dict(rewrites, output_templates=len(self._templates))
      if self._correct_biases:
        corrected = bias_correction.correct(model, tflite_file.serialize(model), self._calibration)
        rewrites = dict(rewrites, biases_corrected=corrected)
      data = tflite_file.serialize(model)
      observations = ranges.observe(data, model, self._calibration)
      qsvs = ranges.estimate(observations, self._static_options.method,
                             self._static_options.percentile,
                             ranges.propagate_clamps(model, self._clamps))
      self._integer = (data, model, rewrites, qsvs)
    return self._integer

  def learned_model(self, int8_activations: bool = True):
    """integer_model() with its weights and ranges trained for int8 (reconstruct.py; with
    int8_activations False, its weights for weight-only int8), where StaticOptions asks for
    training steps and the model's ops can be simulated; None where not."""
    steps = self._static_options.reconstruct_steps
    if steps <= 0 or self._calibration is None:
      return None
    data, model, rewrites, qsvs = self.integer_model()
    from mediapipe_int8 import reconstruct  # imports TensorFlow: only where training is asked for
    if not reconstruct.supports(model):
      return None
    if int8_activations not in self._learned:
      result = reconstruct.reconstruct(data, model, qsvs, self._calibration, reconstruct.Options(
          steps=steps, int8_activations=int8_activations,
          **dict(self._static_options.reconstruct_overrides)))
      self._learned[int8_activations] = (result.model, tflite_file.parse(result.model, self.source),
                                         dict(rewrites, reconstruction=result.report), result.qsvs)
    return self._learned[int8_activations]

  def integer_ops(self) -> list[str]:
    """Scopes (first output names) of the integer graph's ops that quantization touches, in order."""
    _, model, _, _ = self.integer_model()
    graph = model.subgraphs[0]
    return [graph.tensors[int(op.outputs[0])].name.decode() for op in graph.operators
            if graph.tensors[int(op.outputs[0])].type == schema.TensorType.FLOAT32]

  def build(self, recipe: str, float_scopes: frozenset[str] = frozenset()):
    """The quantized model (inline buffers, source interface, no added signature) and what was
    rewritten for integer kernels."""
    rewrites, qsvs, data, integer = {}, None, self.float_bytes, None
    if recipes.needs_calibration(recipe):
      learned = self.learned_model() if recipe in ("int8", recipes.AUTO) else None
      data, integer, rewrites, qsvs = learned or self.integer_model()
      recipe = "int8" if recipe == recipes.AUTO else recipe
    elif recipe == recipes.WEIGHT_ONLY and (learned := self.learned_model(int8_activations=False)):
      data, integer, rewrites, _ = learned
    io = self._static_options.io if recipe == "int8" else "float"
    engine = quantizer.Quantizer(data, recipes.build(recipe, float_scopes, self.unquantized_scopes,
                                                     io))
    with np.errstate(invalid="ignore"):  # dead channels' biases overflow: repaired below
      quantized = engine.quantize(qsvs, enable_progress_bar=False,
                                  enable_progress_report=False).quantized_model
    model = tflite_file.parse(bytes(quantized), self.source)
    if integer is not None:
      repaired = dead_channels.repair(model, integer)
      if repaired:
        rewrites = dict(rewrites, dead_channel_biases=repaired)
      head.add_back(model, self._templates)
    _restore_interface(model, self.prepared)
    return model, rewrites


def _restore_interface(model: schema.ModelT, prepared: prepare.Preparation) -> None:
  source_graph = prepared.model.subgraphs[0]
  graph = model.subgraphs[0]
  for ends, source_ends in ((graph.inputs, source_graph.inputs), (graph.outputs, source_graph.outputs)):
    for index, source_index in zip(ends, source_ends, strict=True):
      wanted = source_graph.tensors[source_index].name
      tensor = graph.tensors[index]
      if tensor.name != wanted:
        for other in graph.tensors:  # the quantizer kept the old name on an inner tensor
          if other.name == wanted:
            other.name = wanted + b"_int"
        tensor.name = wanted
  if prepared.added_signature:
    model.signatureDefs = None
