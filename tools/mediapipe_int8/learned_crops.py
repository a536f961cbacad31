"""Learned int8 of the face landmarks model, measured on crops of people it never saw.

    PYTHONPATH=tools .venv/bin/python -m mediapipe_int8.learned_crops \
        --input=.cache/inputs/model/face_landmarker.task \
        --calibration_dir=.cache/inputs/calibration --heldout_dir=.cache/inputs/heldout \
        --variant=150,128,1 --variant=150,128,0

Each --variant is STEPS,SAMPLES,BLOCK_WEIGHT: training steps, calibration (training) crops and
the weight of reconstruct.py's block loss. Each one quantizes the landmarks model alone with
--recipe (int8, with output templates, head.py; or weight_only_int8, learned rounding of the
weights alone; 0 steps: the recipe as it is) and prints a Markdown row: the mean landmark distance from the
float model over the crops' outer-eye distance (NME), on crops the float pipeline frames around
the held-out people (several framings per face), and the training time. Faster than judging
whole bundles in MediaPipe, so it suits comparing training choices; the bundle's own numbers come
from the accuracy gate.
"""

import numpy as np
from absl import app, flags

from mediapipe_int8 import bundle, calibrate, landmarkers, photos, pipeline, prepare, quantize
from mediapipe_int8 import progress, runner, tflite_file

EVAL_SAMPLES = 48  # crops of the held-out people, and a quarter as many held back: all judge

_FLAGS = flags.FLAGS


def define_flags() -> None:
  flags.DEFINE_string("input", None, "A face landmarker .task bundle.", required=True)
  flags.DEFINE_string("calibration_dir", None, "Photos to calibrate and train on.", required=True)
  flags.DEFINE_string("heldout_dir", None, "Photos of other people, to judge on.", required=True)
  flags.DEFINE_multi_string("variant", ["150,128,1"], "STEPS,SAMPLES,BLOCK_WEIGHT (repeatable).")
  flags.DEFINE_enum("recipe", "int8", ["int8", "weight_only_int8"], "The recipe of every variant.")


def measure(source: str, calibration_dir: str, heldout_dir: str,
            variants: list[tuple[int, int, float]], recipe: str = "int8") -> list[str]:
  data = open(source, "rb").read()
  infos, prepared = {}, {}
  for entry in bundle.read_entries(data, source):
    if entry.name.endswith(".tflite"):
      prepared[entry.name] = prepare.prepare(tflite_file.parse(entry.data, entry.name))
      infos[entry.name] = pipeline.model_info(entry.name, prepared[entry.name])
  name = landmarkers.FACE.landmarks

  def crops(folder: str, count: int) -> calibrate.Samples:
    found = photos.load(photos.photo_paths(folder, []))
    return calibrate.make_samples(infos, {name}, data, found, count, set(), source)[name]

  heldout = crops(heldout_dir, EVAL_SAMPLES)
  inputs = np.concatenate([s[0] for s in heldout.calibration + heldout.held_back])
  want = _landmarks(tflite_file.serialize(prepared[name].model), inputs)
  eye = np.linalg.norm(want[:, 33, :2] - want[:, 263, :2], axis=-1)
  rows = [f"{len(inputs)} crops of the held-out people (several framings per face)", "",
          "| recipe | steps | training crops | block weight | crop NME | worst crop | training s |",
          "|---|---|---|---|---|---|---|"]
  for steps, samples, block_weight in variants:
    options = quantize.StaticOptions(output_templates=True, reconstruct_steps=steps,
                                     reconstruct_overrides=(("block_weight", block_weight),))
    model, report = quantize.Quantization(prepared[name], name, options,
                                          crops(calibration_dir, samples).calibration).build(recipe)
    got = _landmarks(tflite_file.serialize(model), inputs)
    nme = np.linalg.norm(got[..., :2] - want[..., :2], axis=-1).mean(axis=1) / eye
    seconds = report.get("reconstruction", {}).get("seconds", "-")
    rows.append(f"| {recipe} | {steps} | {samples} | {block_weight:g} | {100 * nme.mean():.2f}% | "
                f"{100 * nme.max():.2f}% | {seconds} |")
  return rows


def _landmarks(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
  model = runner.Model(model_bytes)
  return np.stack([model(x[np.newaxis])[0].reshape(-1, 3) for x in inputs])


def _variant(text: str) -> tuple[int, int, float]:
  steps, samples, weight = text.split(",")
  return int(steps), int(samples), float(weight)


def main(argv) -> None:
  del argv
  with progress.quiet():  # the engine's and the runtimes' log lines
    rows = measure(_FLAGS.input, _FLAGS.calibration_dir, _FLAGS.heldout_dir,
                   [_variant(v) for v in _FLAGS.variant], _FLAGS.recipe)
  print("\n".join(rows))


if __name__ == "__main__":
  define_flags()
  app.run(main)
