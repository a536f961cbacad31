"""python -m mediapipe_int8: quantize a MediaPipe .task bundle (or a .tflite) to INT8.

Example:
  python -m mediapipe_int8 --input=face_landmarker.task --output=face_landmarker_int8.task \\
      --calibration_dir=photos/ --report=report.json
"""

import os
import sys
import warnings

from absl import app, flags, logging

from mediapipe_int8 import options, pipeline, progress, report
from mediapipe_int8.errors import UserError

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags on absl's global FlagValues; once per process."""
  if "quiet" in FLAGS:
    return
  options.define(FLAGS)
  flags.DEFINE_bool("quiet", False, "Print nothing on success: no progress lines, no table (the "
                    "report has it), no log lines of the engine, TensorFlow or MediaPipe. A failure "
                    "still prints its error line.")


def main(argv: list[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)  # the engine logs every tensor mapping at INFO
  warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
  with progress.quiet() if FLAGS.quiet else progress.loud() as stderr:
    try:
      result = pipeline.run(options.from_flags(FLAGS), report.to_json)
    except UserError as e:
      print(f"error: {' '.join(str(e).splitlines())}", file=stderr)  # one line, whatever it quotes
      return 1
  if not FLAGS.quiet:
    print(report.table(result))
  return 0


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
  define_flags()
  app.run(main, flags_parser=_parse_flags)
