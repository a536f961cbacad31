"""The quantizer's flags and the pipeline.Options they make: one parser for the command line
(`python -m mediapipe_int8`, cli.py) and for the benchmark's variants (benchmark --extra).

No flag is defined at import: define() puts them on the FlagValues an entry point gives (absl's
global one for the command line, a fresh one per benchmark variant), so modules that import this
one can share a process.
"""

from absl import flags

from mediapipe_int8 import mixed_precision, pipeline, quantize, recipes
from mediapipe_int8.errors import UserError


def define(values: flags.FlagValues) -> None:
  """Defines every quantizer flag on `values`."""
  flags.DEFINE_string("input", None, "A .task bundle (nested bundles included) or a single .tflite.",
                      flag_values=values)
  flags.DEFINE_string("output", None, "The file to write, of the same kind as --input.",
                      flag_values=values)
  flags.DEFINE_string("recipe", "int8", "The recipe for every model: " + "; ".join(
      f"{k}: {v}" for k, v in recipes.RECIPES.items()), flag_values=values)
  flags.DEFINE_multi_string("model_recipe", [], "NAME=RECIPE: the recipe of one entry (nested: "
                            "outer.task/inner.tflite), e.g. face_blendshapes.tflite=weight_only_int8.",
                            flag_values=values)
  flags.DEFINE_multi_string("exclude", [], "NAME: drop this entry from the output bundle.",
                            flag_values=values)
  flags.DEFINE_string("calibration_dir", None, "A folder of .jpg, .png or .webp photos for calibration "
                      "and checks.", flag_values=values)
  flags.DEFINE_multi_string("calibration_image", [], "One more calibration photo (repeatable).",
                            flag_values=values)
  flags.DEFINE_integer("num_calibration_samples", 32, "Calibration samples per model; a quarter as "
                       "many (at least 4) are held back for the accuracy checks.", lower_bound=1,
                       upper_bound=pipeline.MAX_CALIBRATION_SAMPLES, flag_values=values)
  flags.DEFINE_multi_string("random_calibration", [], "NAME: calibrate this model on seeded random "
                            "inputs instead of photos (for models photos can't feed).",
                            flag_values=values)
  flags.DEFINE_enum("range_method", "percentile", ["minmax", "percentile"],
                    "How activation ranges are estimated from calibration samples: minmax (smallest "
                    "and largest value seen) or percentile (pooled, outlier-robust).",
                    flag_values=values)
  flags.DEFINE_float("range_percentile", 99.99, "With --range_method=percentile: the upper percentile "
                     "(the lower is 100 minus it).", lower_bound=50.0, upper_bound=100.0,
                     flag_values=values)
  flags.DEFINE_enum("prelu", "float", ["float", "int8"],
                    "Calibrated recipes: float keeps PRELU in float between conversions (faster with "
                    "XNNPACK on x86); int8 rewrites it into int8 depthwise convs and an ADD (no "
                    "conversion inside the graph, slightly more accurate).", flag_values=values)
  flags.DEFINE_bool("integer_rewrites", True, "Calibrated recipes: fuse standalone RELUs into the ops "
                    "before them (and rewrite PRELU with --prelu=int8) so integer kernels take them; "
                    "--nointeger_rewrites quantizes the graph as it is, to compare.",
                    flag_values=values)
  flags.DEFINE_integer("reconstruct_steps", 0, "--recipe=int8: train the int8 weights and activation "
                       "ranges of each model whose ops it can simulate (the face landmarks model) "
                       "against the float model on its calibration samples, for this many steps of "
                       "8 samples (learned int8; 0: calibrated ranges only); with "
                       "--recipe=weight_only_int8, the weights' rounding alone (learned rounding); "
                       "with --recipe=auto, both: the search starts from learned int8 and falls "
                       "back to learned rounding. "
                       "Needs --calibration_dir. Measured here: 150 steps train in about 200 s on "
                       "one thread (docs/results.md).",
                       lower_bound=0, flag_values=values)
  flags.DEFINE_float("budget_nme", None, "--recipe=auto: the largest landmark NME against float "
                     "(mean landmark error / outer-eye distance) on held-back photos. Default: float's "
                     "own NME when those photos move by one pixel.", flag_values=values)
  flags.DEFINE_float("budget_blendshapes", None, "--recipe=auto: the largest blendshape score change "
                     "against float. Default: float's own under a one-pixel move.",
                     flag_values=values)
  flags.DEFINE_float("budget_sqnr_db", 25.0, "--recipe=auto: the per-output SQNR floor for models "
                     "of bundles with no known pipeline.", flag_values=values)
  flags.DEFINE_enum("io", "float", list(recipes.IO_TYPES), "The model's input and output type: "
                    "float (float32, as MediaPipe's runtime needs) or int8 (for integer-only "
                    "accelerators: a single .tflite with --recipe=int8 only; the report gives each "
                    "input's and output's scale and zero point, real = scale * (q - zero_point)).",
                    flag_values=values)
  flags.DEFINE_string("report", None, "Write the report as JSON to this path (it holds the table too).",
                      flag_values=values)


def from_flags(values: flags.FlagValues) -> pipeline.Options:
  """The run's options from parsed flags; UserError for what absl can't check."""
  for flag in ("input", "output"):
    if not values[flag].value:
      raise UserError(f"--{flag} is required")
  return pipeline.Options(
      input=values.input, output=values.output, recipe=values.recipe,
      model_recipes=_model_recipes(values.model_recipe), exclude=list(values.exclude),
      calibration_dir=values.calibration_dir, calibration_images=list(values.calibration_image),
      num_calibration_samples=values.num_calibration_samples,
      random_calibration=list(values.random_calibration),
      static=quantize.StaticOptions(values.range_method, values.range_percentile, values.prelu,
                                    values.integer_rewrites,
                                    output_templates=values.reconstruct_steps > 0,
                                    reconstruct_steps=values.reconstruct_steps, io=values.io),
      budget=mixed_precision.Budget(values.budget_nme, values.budget_blendshapes,
                                    values.budget_sqnr_db),
      report=values.report)


def parse(words: list[str], **given: str) -> pipeline.Options:
  """The options that these command-line words give, e.g. a benchmark variant's
  `--recipe=int8 --prelu=int8`; `given` sets flags the caller owns (input, output, ...)."""
  values = flags.FlagValues()
  define(values)
  try:
    values(["mediapipe_int8", *words])
  except flags.Error as e:
    raise UserError(f"{' '.join(words)}: {' '.join(str(e).split())}") from None
  for name, value in given.items():
    values[name].value = value
  return from_flags(values)


def _model_recipes(values: list[str]) -> dict[str, str]:
  out = {}
  for value in values:
    name, sep, recipe = value.partition("=")
    if not sep or not name or not recipe:
      raise UserError(f"--model_recipe={value}: expected NAME=RECIPE")
    out[name] = recipe
  return out
