"""Runs ai-edge-quantizer on a prepared float model and restores the model's interface.

The quantizer renames output tensors (`<name>_dequant`) and keeps the signature
that preparation added; both are put back as the source model had them, so
the output model differs from the source only inside.
"""

import dataclasses

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_quantizer import quantizer

from mediapipe_int8 import prepare, ranges, recipes, rewrite, tflite_file


@dataclasses.dataclass(frozen=True)
class StaticOptions:
  """Choices of the calibrated (int8, int16x8) recipes: range estimation and PRELU handling."""
  method: str = "percentile"
  percentile: float = ranges.DEFAULT_PERCENTILE
  prelu: str = "float"  # rewrite.PRELU_MODES


def calibrate_and_quantize(prepared: prepare.Preparation, recipe: str,
                           calibration: list[list[np.ndarray]] | None, source: str,
                           static_options: StaticOptions = StaticOptions(),
                           clamps: dict[str, tuple[float, float]] | None = None) -> schema.ModelT:
  """Returns the quantized model (inline buffers, source interface names, no added signature)
  and what was rewritten for integer kernels."""
  float_bytes = tflite_file.serialize(prepared.model)
  rewrites = {}
  if recipes.needs_calibration(recipe):
    # Integer recipes quantize a rewritten copy whose float outputs are the same bits.
    model = tflite_file.parse(float_bytes, source)
    rewrites = rewrite.for_integer_kernels(model, static_options.prelu)
    prepare.prune(model)
    float_bytes = tflite_file.serialize(model)
  engine = quantizer.Quantizer(float_bytes, recipes.build(recipe))
  qsvs = None
  if engine.need_calibration:
    model = tflite_file.parse(float_bytes, source)
    observations = ranges.observe(float_bytes, model, calibration)
    qsvs = ranges.estimate(observations, static_options.method, static_options.percentile,
                           ranges.propagate_clamps(model, clamps or {}))
  quantized = engine.quantize(qsvs, enable_progress_bar=False, enable_progress_report=False).quantized_model
  model = tflite_file.parse(bytes(quantized), source)
  _restore_interface(model, prepared)
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
