"""The recipes users name, as ai-edge-quantizer recipes that keep float32 model inputs and outputs
(or, with `io=int8` and the int8 recipe, make them int8 for integer-only accelerators)."""

import re

from ai_edge_quantizer import qtyping, recipe_manager

NONE = "none"
AUTO = "auto"
WEIGHT_ONLY = "weight_only_int8"
RECIPES = {
    AUTO: "int8, with the fewest, most sensitive ops moved to float (int8 weights) until the "
          "error budget holds, measured end to end on held-back photos (calibrated)",
    "int8": "int8 weights and int8 activations; float32 model inputs and outputs (calibrated)",
    WEIGHT_ONLY: "int8 weights, float computation",
    "dynamic_int8": "int8 weights, activations quantized at run time",
    "int16x8": "int8 weights and int16 activations; float32 model inputs and outputs (calibrated)",
    NONE: "the model is copied unchanged",
}
_STATIC_ACTIVATION_BITS = {"int8": 8, "int16x8": 16}
IO_TYPES = ("float", "int8")  # model inputs and outputs: float32, or int8 (the int8 recipe only)


def needs_calibration(recipe: str) -> bool:
  return recipe in _STATIC_ACTIVATION_BITS or recipe == AUTO


def supports_int8_io(recipe: str) -> bool:
  """Whether `recipe` has calibrated int8 activations, which int8 model inputs and outputs need."""
  return recipe == "int8"


def build(recipe: str, float_scopes: frozenset[str] = frozenset(),
          unquantized_scopes: frozenset[str] = frozenset(), io: str = "float") -> list[dict]:
  """The ai-edge-quantizer recipe for one of RECIPES (not NONE).

  `io`: "float" keeps the model's inputs and outputs float32; "int8" (int8 recipe only) lets the
  engine make them int8, each with its own scale and zero point.

  `float_scopes`: op scopes (output tensor names) that compute in float with int8 weights
  instead, for mixed precision; `unquantized_scopes`: ops left wholly float, weights included.
  The last matching recipe entry wins, so they go last.
  """
  if io not in IO_TYPES or (io == "int8" and not supports_int8_io(recipe)):
    raise ValueError(f"io={io} with recipe {recipe}")
  manager = recipe_manager.RecipeManager()
  ops = qtyping.TFLOperationName
  if recipe in _STATIC_ACTIVATION_BITS:
    manager.add_static_config(regex=".*", operation_name=ops.ALL_SUPPORTED,
                              activation_num_bits=_STATIC_ACTIVATION_BITS[recipe], weight_num_bits=8)
    # Without these the model's own inputs and outputs become int8, which MediaPipe rejects.
    for boundary in (ops.INPUT, ops.OUTPUT) if io == "float" else ():
      manager.add_quantization_config(regex=".*", operation_name=boundary, algorithm_key="no_quantize")
  elif recipe == WEIGHT_ONLY:
    manager.add_weight_only_config(regex=".*", operation_name=ops.ALL_SUPPORTED, num_bits=8)
  elif recipe == "dynamic_int8":
    manager.add_dynamic_config(regex=".*", operation_name=ops.ALL_SUPPORTED, num_bits=8)
  else:
    raise ValueError(recipe)
  if float_scopes:
    pattern = "^(" + "|".join(re.escape(s + ";") for s in sorted(float_scopes)) + ")$"
    manager.add_weight_only_config(regex=pattern, operation_name=ops.ALL_SUPPORTED, num_bits=8)
  if unquantized_scopes:
    pattern = "^(" + "|".join(re.escape(s + ";") for s in sorted(unquantized_scopes)) + ")$"
    manager.add_quantization_config(regex=pattern, operation_name=ops.ALL_SUPPORTED,
                                    algorithm_key="no_quantize")
  return manager.get_quantization_recipe()
