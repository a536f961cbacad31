"""python -m mediapipe_int8: quantize a MediaPipe .task bundle (or a .tflite) to INT8.

Example:
  python -m mediapipe_int8 --input=face_landmarker.task --output=face_landmarker_int8.task \\
      --calibration_dir=photos/ --report=report.json
"""

import os
import sys
import warnings

from absl import app, flags, logging

from mediapipe_int8 import mixed_precision, pipeline, progress, quantize, recipes, report
from mediapipe_int8.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "A .task bundle (nested bundles included) or a single .tflite.")
flags.DEFINE_string("output", None, "The file to write, of the same kind as --input.")
flags.DEFINE_string("recipe", "int8", "The recipe for every model: " + "; ".join(
    f"{k}: {v}" for k, v in recipes.RECIPES.items()))
flags.DEFINE_multi_string("model_recipe", [], "NAME=RECIPE: the recipe of one entry (nested: "
                          "outer.task/inner.tflite), e.g. face_blendshapes.tflite=weight_only_int8.")
flags.DEFINE_multi_string("exclude", [], "NAME: drop this entry from the output bundle.")
flags.DEFINE_string("calibration_dir", None, "A folder of .jpg, .png or .webp photos for calibration "
                    "and checks.")
flags.DEFINE_multi_string("calibration_image", [], "One more calibration photo (repeatable).")
flags.DEFINE_integer("num_calibration_samples", 32, "Calibration samples per model; a quarter as "
                     "many (at least 4) are held back for the accuracy checks.", lower_bound=1,
                     upper_bound=pipeline.MAX_CALIBRATION_SAMPLES)
flags.DEFINE_multi_string("random_calibration", [], "NAME: calibrate this model on seeded random "
                          "inputs instead of photos (for models photos can't feed).")
flags.DEFINE_enum("range_method", "percentile", ["minmax", "percentile"],
                  "How activation ranges are estimated from calibration samples: minmax (smallest "
                  "and largest value seen) or percentile (pooled, outlier-robust).")
flags.DEFINE_float("range_percentile", 99.99, "With --range_method=percentile: the upper percentile "
                   "(the lower is 100 minus it).", lower_bound=50.0, upper_bound=100.0)
flags.DEFINE_enum("prelu", "float", ["float", "int8"],
                  "Calibrated recipes: float keeps PRELU in float between conversions (faster with "
                  "XNNPACK on x86); int8 rewrites it into int8 depthwise convs and an ADD (no "
                  "conversion inside the graph, slightly more accurate).")
flags.DEFINE_bool("integer_rewrites", True, "Calibrated recipes: fuse standalone RELUs into the ops "
                  "before them (and rewrite PRELU with --prelu=int8) so integer kernels take them; "
                  "--nointeger_rewrites quantizes the graph as it is, to compare.")
flags.DEFINE_integer("reconstruct_steps", 0, "--recipe=int8: train the int8 weights and activation "
                     "ranges of each model whose ops it can simulate (the face landmarks model) "
                     "against the float model on its calibration samples, for this many steps of "
                     "8 samples (learned int8; 0: calibrated ranges only). About 2 s a step "
                     "here, on one thread.", lower_bound=0)
flags.DEFINE_float("budget_nme", None, "--recipe=auto: the largest landmark NME against float "
                   "(mean landmark error / outer-eye distance) on held-back photos. Default: float's "
                   "own NME when those photos move by one pixel.")
flags.DEFINE_float("budget_blendshapes", None, "--recipe=auto: the largest blendshape score change "
                   "against float. Default: float's own under a one-pixel move.")
flags.DEFINE_float("budget_sqnr_db", 25.0, "--recipe=auto: the per-output SQNR floor for models "
                   "of bundles with no known pipeline.")
flags.DEFINE_enum("io", "float", list(recipes.IO_TYPES), "The model's input and output type: "
                  "float (float32, as MediaPipe's runtime needs) or int8 (for integer-only "
                  "accelerators: a single .tflite with --recipe=int8 only; the report gives each "
                  "input's and output's scale and zero point, real = scale * (q - zero_point)).")
flags.DEFINE_string("report", None, "Write the report as JSON to this path (it holds the table too).")
flags.DEFINE_bool("quiet", False, "Print nothing on success: no progress lines, no table (the "
                  "report has it), no log lines of the engine, TensorFlow or MediaPipe. A failure "
                  "still prints its error line.")


def _parse_model_recipes(values: list[str]) -> dict[str, str]:
  out = {}
  for value in values:
    name, sep, recipe = value.partition("=")
    if not sep or not name or not recipe:
      raise UserError(f"--model_recipe={value}: expected NAME=RECIPE")
    out[name] = recipe
  return out


def main(argv: list[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)  # the engine logs every tensor mapping at INFO
  warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
  with progress.quiet() if FLAGS.quiet else progress.loud() as stderr:
    try:
      result = pipeline.run(_options(), report.to_json)
    except UserError as e:
      print(f"error: {' '.join(str(e).splitlines())}", file=stderr)  # one line, whatever it quotes
      return 1
  if not FLAGS.quiet:
    print(report.table(result))
  return 0


def _options() -> pipeline.Options:
  for flag in ("input", "output"):
    if not FLAGS[flag].value:
      raise UserError(f"--{flag} is required")
  return pipeline.Options(
      input=FLAGS.input, output=FLAGS.output, recipe=FLAGS.recipe,
      model_recipes=_parse_model_recipes(FLAGS.model_recipe), exclude=list(FLAGS.exclude),
      calibration_dir=FLAGS.calibration_dir, calibration_images=list(FLAGS.calibration_image),
      num_calibration_samples=FLAGS.num_calibration_samples,
      random_calibration=list(FLAGS.random_calibration),
      static=quantize.StaticOptions(FLAGS.range_method, FLAGS.range_percentile, FLAGS.prelu,
                                    FLAGS.integer_rewrites,
                                    output_templates=FLAGS.reconstruct_steps > 0,
                                    reconstruct_steps=FLAGS.reconstruct_steps, io=FLAGS.io),
      budget=mixed_precision.Budget(FLAGS.budget_nme, FLAGS.budget_blendshapes,
                                    FLAGS.budget_sqnr_db),
      report=FLAGS.report)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with a bad flag as one `error:` line instead of absl's FATAL and usage text."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    print(f"error: {' '.join(str(e).split())} (--helpfull lists the flags)", file=sys.stderr)
    sys.exit(1)


def run() -> None:
  """Entry point: quiet TensorFlow's and MediaPipe's native logs, then run main under absl."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("GLOG_minloglevel", "2")
  app.run(main, flags_parser=_parse_flags)
