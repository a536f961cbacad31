"""Benchmark: float against each recipe on one bundle, side by side in one run.

For each recipe it quantizes the bundle (calibration photos), then measures bytes, end-to-end
accuracy against float in MediaPipe's runtime on held-out photos, latency (XNNPACK, 1 and 2
threads, interleaved medians), the share of conv/FC MACs computed in int8, and QUANTIZE/
DEQUANTIZE ops left inside graphs. Writes a Markdown table and PNG plots.

  tools/benchmark --input=.cache/inputs/model/face_landmarker.task \\
      --calibration_dir=.cache/inputs/calibration --heldout_dir=.cache/inputs/heldout
"""

import dataclasses
import datetime
import os
import pathlib
import platform
import shlex
import sys
import tempfile

import numpy as np
from absl import app, flags, logging

from mediapipe_int8 import bundle, calibrate, evaluate, graph_stats, landmarkers, latency, photos
from mediapipe_int8 import options, pipeline, prepare, progress, tflite_file
from mediapipe_int8.errors import UserError

FLAGS = flags.FLAGS
FLOAT = "float16 (Google)"  # the source bundle's name in every table
# What --ablation switches off in turn: learned int8's techniques, each as the change it makes to
# the variant's quantize.StaticOptions.
ABLATIONS = {
    "block loss": {"reconstruct_overrides": (("block_weight", 0.0),)},
    "learned weights": {"reconstruct_overrides": (("learn_weights", False),)},
    "learned ranges": {"reconstruct_overrides": (("learn_ranges", False),)},
    "augmentation": {"reconstruct_overrides": (("augment", False),)},
    "head templates": {"output_templates": False},
    "training (calibrated ranges, head templates)": {"reconstruct_steps": 0},
}


@dataclasses.dataclass(frozen=True)
class ModelRow:
  """One model of one variant: its size, how much of it is int8, and its speed against float's."""
  model: str
  variant: str
  bytes: int
  macs: float  # conv/FC multiply-accumulates per inference
  int8_share: float  # of those, the share with int8 activations
  inner_conversions: int  # QUANTIZE/DEQUANTIZE ops inside the graph
  ms_1_thread: float
  vs_float_1_thread: float
  ms_2_threads: float
  vs_float_2_threads: float


def _define_flags() -> None:
  """The benchmark's flags, defined by its entry point only: importing this module (the tests
  read its tables) defines none, so it can share a process with the quantizer's command line."""
  flags.DEFINE_string("input", None, "The float .task bundle.", required=True)
  flags.DEFINE_string("calibration_dir", None, "Calibration photos.", required=True)
  flags.DEFINE_string("heldout_dir", None, "Photos never used for calibration: accuracy is judged on them.",
                      required=True)
  flags.DEFINE_list("recipes", ["weight_only_int8", "dynamic_int8", "int8"], "Recipes to compare with float.")
  flags.DEFINE_multi_string("extra", [], "NAME:FLAGS: one more variant, quantized with these quantizer "
                            "flags (space-separated), e.g. 'mixed:--recipe=int8 --model_recipe=...'.")
  flags.DEFINE_string("ablation", None, "NAME:FLAGS: one more variant (learned int8, e.g. 'learned:"
                      "--recipe=int8 --reconstruct_steps=150'), built again with each of its "
                      "techniques switched off in turn; an ablation table compares them with it.")
  flags.DEFINE_integer("runs", 50, "Timed runs per model and thread count (after warm-up).")
  flags.DEFINE_string("out", "docs/benchmarks.md", "The Markdown report to write.")
  flags.DEFINE_string("plots_dir", "docs", "Where the PNG plots go.")
  flags.DEFINE_bool("astronaut", True, "Also judge a face landmarker on scikit-image's astronaut.")


def machine() -> str:
  model = "unknown CPU"
  flags_seen = []
  try:
    for line in open("/proc/cpuinfo"):
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
      if line.startswith("flags"):
        have = set(line.split(":", 1)[1].split())
        flags_seen = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in have]
        break
  except OSError:
    pass
  return f"{model}, {os.cpu_count()} cores ({', '.join(flags_seen)}), {platform.system()} {platform.machine()}"


def quantize_variants(source: str, work: pathlib.Path) -> dict[str, tuple[bytes, dict]]:
  """name -> (bundle, report) for each recipe and --extra variant, parsed as the command line
  parses its flags (options.py)."""
  variants = {}
  specs = [(r, [f"--recipe={r}"]) for r in FLAGS.recipes]
  specs += [(e.split(":", 1)[0], shlex.split(e.split(":", 1)[1])) for e in FLAGS.extra]
  runs = [(name, options.parse(words, input=source, output=str(work / f"{name}.task"),
                               calibration_dir=FLAGS.calibration_dir)) for name, words in specs]
  if FLAGS.ablation:
    runs += ablation_runs(FLAGS.ablation, source, work, FLAGS.calibration_dir)
  for name, run_options in runs:
    progress.report(f"benchmark: quantizing {name}")
    report = pipeline.run(run_options)
    variants[name] = (pathlib.Path(run_options.output).read_bytes(), report)
  return variants


def ablation_runs(spec: str, source: str, work: pathlib.Path,
                  calibration_dir: str) -> list[tuple[str, pipeline.Options]]:
  """The --ablation variant (`spec`: NAME:FLAGS), then the same with each of ABLATIONS switched off."""
  name, words = spec.split(":", 1)
  base = options.parse(shlex.split(words), input=source, output=str(work / "ablation.task"),
                       calibration_dir=calibration_dir)
  runs, static = [(name, base)], base.static
  for i, (technique, change) in enumerate(ABLATIONS.items()):
    change = dict(change, reconstruct_overrides=static.reconstruct_overrides
                  + change.get("reconstruct_overrides", ()))
    runs.append((ablated(name, technique), dataclasses.replace(
        base, output=str(work / f"ablation_{i}.task"),
        static=dataclasses.replace(static, **change))))
  return runs


def ablated(name: str, technique: str) -> str:
  return f"{name}, no {technique}"


def _ablation_name() -> str | None:
  """The --ablation variant's name (None without --ablation)."""
  return FLAGS.ablation.split(":", 1)[0] if FLAGS.ablation else None


def model_inputs(float_bundle: bytes, heldout: list[photos.Photo]) -> dict[str, list[np.ndarray]]:
  """One real input per model: what the held-out photos give each stage of the pipeline."""
  infos = {n: pipeline.model_info(n, prepare.prepare(tflite_file.parse(d, n)))
           for n, d in models_of(float_bundle).items()}
  samples = calibrate.make_samples(infos, set(infos), float_bundle, heldout, 1, set(), FLAGS.input)
  return {name: s.calibration[0] for name, s in samples.items()}


def models_of(data: bytes) -> dict[str, bytes]:
  return {e.name: e.data for e in bundle.read_entries(data, "bundle") if e.name.endswith(".tflite")}


def _from_caller(path: str) -> str:
  """`bazel run` starts in the runfiles tree; paths the user typed are relative to where they were."""
  return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), path)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  for flag in ("input", "calibration_dir", "heldout_dir", "out", "plots_dir"):
    FLAGS[flag].value = _from_caller(FLAGS[flag].value)
  float_bundle = pathlib.Path(FLAGS.input).read_bytes()
  kind = landmarkers.kind_of(models_of(float_bundle))
  if kind is None:
    raise UserError(f"{FLAGS.input}: not a face, hand or pose landmarker bundle; the benchmark judges those")
  heldout = photos.load(photos.photo_paths(FLAGS.heldout_dir, []))
  if FLAGS.astronaut and kind == landmarkers.FACE:
    import skimage.data
    heldout.append(photos.Photo("astronaut.png", np.asarray(skimage.data.astronaut())))
  with tempfile.TemporaryDirectory() as work:
    variants = quantize_variants(FLAGS.input, pathlib.Path(work))
  bundles = {FLOAT: float_bundle} | {n: v[0] for n, v in variants.items()}

  progress.report("benchmark: accuracy in MediaPipe's runtime")
  blendshapes = kind.blendshapes is not None
  reference = evaluate.detect_all(kind, float_bundle, heldout, blendshapes)
  accuracy = {FLOAT: None}
  jitter = evaluate.float_jitter(kind, float_bundle, heldout, reference, blendshapes)
  for name, data in bundles.items():
    if name != FLOAT:
      candidate = evaluate.detect_all(kind, data, heldout, blendshapes)
      accuracy[name] = evaluate.compare(kind, reference, candidate, heldout)

  progress.report("benchmark: latency")
  inputs = model_inputs(float_bundle, heldout)
  bundle_ms = latency.bundle_median_ms(kind, bundles, [p.pixels for p in heldout], runs=FLAGS.runs)
  model_rows = []
  for model_name in models_of(float_bundle):
    per_variant = {n: models_of(d).get(model_name) for n, d in bundles.items()}
    per_variant = {n: d for n, d in per_variant.items() if d is not None}
    times = {t: latency.median_ms(per_variant, inputs[model_name], t, FLAGS.runs) for t in (1, 2)}
    for name, data in per_variant.items():
      model = tflite_file.parse(data, model_name)
      share = graph_stats.mac_share(model)
      model_rows.append(ModelRow(
          model_name, name, len(data), share["macs"], share["int8_share"],
          graph_stats.inner_conversions(model), times[1][name], times[1][name] / times[1][FLOAT],
          times[2][name], times[2][name] / times[2][FLOAT]))

  write_markdown(kind, bundles, accuracy, jitter, bundle_ms, model_rows, heldout,
                 {n: v[1] for n, v in variants.items()})
  write_plots(kind, bundles, accuracy, jitter, reference, heldout)
  return 0


def _fmt(value, digits=2):
  return "-" if value is None else f"{value:.{digits}f}"


def write_markdown(kind, bundles, accuracy, jitter, bundle_ms, model_rows, heldout, reports):
  float_size = len(bundles[FLOAT])
  float_ms = bundle_ms[FLOAT]
  command = "tools/benchmark " + " ".join(shlex.quote(a) for a in sys.argv[1:])
  lines = [
      "# Benchmarks", "",
      f"Machine: {machine()}. Run on {datetime.date.today().isoformat()} with:", "",
      f"    {command}", "",
      f"Accuracy is judged in MediaPipe's own runtime ({kind.noun.title()}Landmarker, IMAGE mode) "
      f"against the float bundle, on {len(heldout)} photos never used for calibration "
      f"({', '.join(p.name for p in heldout)}; {jitter.reference_count} {kind.noun}s). NME: mean "
      f"landmark distance / {kind.scale_name}. The floor is float against itself when the photo "
      "moves by one pixel.", "",
      f"| bundle | bytes | of float | NME | landmarks px mean / max | blendshapes max diff | {kind.noun}s lost | detect() ms | vs float |",
      "|---|---|---|---|---|---|---|---|---|",
      f"| float, photo moved 1 px (floor) | | | {100 * jitter.mean_nme:.2f}% | {jitter.mean_px:.2f} / "
      f"{jitter.max_px:.1f} | {_fmt(jitter.blendshape_max)} | {jitter.lost} of {jitter.reference_count} | | |",
  ]
  for name, data in bundles.items():
    acc = accuracy[name]
    if acc is None:
      lines.append(f"| {name} | {len(data):,} | 100% | 0 | 0 / 0 | 0 | 0 | {float_ms:.1f} | 1.00x |")
      continue
    lines.append(f"| {name} | {len(data):,} | {100 * len(data) / float_size:.0f}% | "
                 f"{100 * acc.mean_nme:.2f}% | {acc.mean_px:.2f} / {acc.max_px:.1f} | "
                 f"{_fmt(acc.blendshape_max)} | {acc.lost} of {acc.reference_count} | "
                 f"{bundle_ms[name]:.1f} | {bundle_ms[name] / float_ms:.2f}x |")
  lines += ["", *target_lines(kind, bundles, accuracy, jitter, model_rows)]
  if FLAGS.ablation:
    lines += ["", *ablation_lines(_ablation_name(), kind, bundles, accuracy, reports)]
  lines += [
      "", "Per model: LiteRT interpreter with XNNPACK, median of "
      f"{FLAGS.runs} runs after warm-up, all variants interleaved in one process.", "",
      "| model | variant | bytes | conv/FC MACs with int8 activations | inner QUANTIZE/DEQUANTIZE | 1 thread ms | vs float | 2 threads ms | vs float |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  for r in model_rows:
    lines.append(f"| {r.model} | {r.variant} | {r.bytes:,} | {100 * r.int8_share:.0f}% of "
                 f"{r.macs / 1e6:.1f} M | {r.inner_conversions} | {r.ms_1_thread:.2f} | "
                 f"{r.vs_float_1_thread:.2f}x | {r.ms_2_threads:.2f} | {r.vs_float_2_threads:.2f}x |")
  plots = os.path.relpath(FLAGS.plots_dir, os.path.dirname(os.path.abspath(FLAGS.out)))
  lines += ["", f"![landmark error against bundle size]({plots}/accuracy_vs_size.png)", "",
            f"![per-landmark error on a held-out {kind.noun}]({plots}/landmark_error.png)", ""]
  pathlib.Path(FLAGS.out).parent.mkdir(parents=True, exist_ok=True)
  pathlib.Path(FLAGS.out).write_text("\n".join(lines))
  print("\n".join(lines))


def target_lines(kind, bundles, accuracy, jitter, model_rows) -> list[str]:
  """Each variant against the targets of the INT8 quality issue, with the measured value."""
  float_size = len(bundles[FLOAT])
  rows = ["The targets, per variant (yes/no and the measured value; the landmarks model's time is "
          "its 1-thread median against float's):", "",
          "| variant | bytes at most 60% of float | conv/FC MACs in int8 at least 90% | no "
          "QUANTIZE/DEQUANTIZE inside | every " + kind.noun + " float finds is found | NME at "
          "most the floor | blendshapes at most the floor | landmarks model at most 1.0x float |",
          "|---|---|---|---|---|---|---|---|"]

  def cell(ok: bool, text: str) -> str:
    return f"{'yes' if ok else 'no'}, {text}"

  for name, data in bundles.items():
    acc = accuracy[name]
    if acc is None:
      continue
    per_model = [r for r in model_rows if r.variant == name]
    macs = sum(r.macs for r in per_model)
    int8_macs = sum(r.macs * r.int8_share for r in per_model)
    inner = sum(r.inner_conversions for r in per_model)
    landmarks = [r.vs_float_1_thread for r in per_model if r.model == kind.landmarks]
    share = len(data) / float_size
    blend = "-"
    if acc.blendshape_max is not None and jitter.blendshape_max is not None:
      blend = cell(acc.blendshape_max <= jitter.blendshape_max,
                   f"{acc.blendshape_max:.2f} vs {jitter.blendshape_max:.2f}")
    rows.append(
        f"| {name} | {cell(share <= 0.6, f'{100 * share:.0f}%')} | "
        f"{cell(macs > 0 and int8_macs / macs >= 0.9, f'{100 * int8_macs / macs:.0f}%' if macs else '-')} | "
        f"{cell(inner == 0, str(inner))} | {cell(acc.lost == 0, f'{acc.lost} lost')} | "
        f"{cell(acc.mean_nme <= jitter.mean_nme, f'{100 * acc.mean_nme:.2f}% vs {100 * jitter.mean_nme:.2f}%')} | "
        f"{blend} | "
        + (cell(landmarks[0] <= 1.0, f"{landmarks[0]:.2f}x") if landmarks else "-") + " |")
  return rows


def training_seconds(report: dict) -> float:
  """Learned int8's training time, summed over the bundle's models (0: none trained)."""
  return sum(m.get("rewrites", {}).get("reconstruction", {}).get("seconds", 0.0)
             for m in report["models"])


def ablation_lines(name, kind, bundles, accuracy, reports) -> list[str]:
  """The --ablation variant `name` against itself with each technique switched off, in this run."""
  base = accuracy[name]
  rows = [f"Ablation: `{name}` with each technique switched off in turn (same run, same held-out "
          "photos; a positive change means the technique lowers the error by that much):", "",
          f"| switched off | NME | NME change | blendshapes max diff | {kind.noun}s lost | bytes | "
          "training s |", "|---|---|---|---|---|---|---|",
          f"| nothing ({name}) | {100 * base.mean_nme:.2f}% | | {_fmt(base.blendshape_max)} | "
          f"{base.lost} of {base.reference_count} | {len(bundles[name]):,} | "
          f"{training_seconds(reports[name]):.0f} |"]
  for technique in ABLATIONS:
    variant = ablated(name, technique)
    acc = accuracy[variant]
    rows.append(f"| {technique} | {100 * acc.mean_nme:.2f}% | "
                f"{100 * (acc.mean_nme - base.mean_nme):+.2f} points | {_fmt(acc.blendshape_max)} | "
                f"{acc.lost} of {acc.reference_count} | {len(bundles[variant]):,} | "
                f"{training_seconds(reports[variant]):.0f} |")
  return rows


def write_plots(kind, bundles, accuracy, jitter, reference, heldout):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  plots = pathlib.Path(FLAGS.plots_dir)
  plots.mkdir(parents=True, exist_ok=True)
  figure, axis = plt.subplots(figsize=(6, 4))
  for name, data in bundles.items():
    nme = 0.0 if accuracy[name] is None else 100 * accuracy[name].mean_nme
    axis.scatter(len(data) / 1e6, nme)
    axis.annotate(name, (len(data) / 1e6, nme), textcoords="offset points", xytext=(4, 4), fontsize=8)
  axis.axhline(100 * jitter.mean_nme, linestyle="--", color="gray")
  axis.text(axis.get_xlim()[1], 100 * jitter.mean_nme, "float, photo moved 1 px ", va="bottom",
            ha="right", fontsize=8)
  axis.set_xlabel("bundle size (MB)")
  axis.set_ylabel("landmark NME vs float (%)")
  axis.set_title(f"Accuracy against size, held-out {kind.noun}s")
  figure.tight_layout()
  figure.savefig(plots / "accuracy_vs_size.png", dpi=100)
  plt.close(figure)

  index = max(range(len(heldout)),
              key=lambda i: (len(reference[i]) == 1, heldout[i].name == "astronaut.png"))
  photo, ref_found = heldout[index], reference[index][0]
  # The ablation's variants are in the tables; one face each would make this figure unreadable.
  ablation = _ablation_name()
  ablated_variants = {ablated(ablation, t) for t in ABLATIONS} if ablation else set()
  names = [n for n in bundles if accuracy[n] is not None and n not in ablated_variants]
  figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4.4))
  axes = np.atleast_1d(axes)
  h, w = photo.pixels.shape[:2]
  ref_xy = ref_found.landmarks[:, :2] * [w, h]
  low, high = ref_xy.min(0), ref_xy.max(0)
  pad = 0.15 * (high - low)
  for axis, name in zip(axes, names):
    found = evaluate.detect_all(kind, bundles[name], [photo], blendshapes=False)[0]
    axis.imshow(photo.pixels)
    axis.set_xlim(low[0] - pad[0], high[0] + pad[0])
    axis.set_ylim(high[1] + pad[1], low[1] - pad[1])
    axis.axis("off")
    if not found:
      axis.set_title(f"{name}: {kind.noun} lost")
      continue
    xy = min((f.landmarks[:, :2] * [w, h] for f in found), key=lambda p: np.abs(p - ref_xy).mean())
    error = np.linalg.norm(xy - ref_xy, axis=1)
    points = axis.scatter(ref_xy[:, 0], ref_xy[:, 1], c=error, s=6, cmap="inferno", vmin=0,
                          vmax=max(3.0, float(np.percentile(error, 99))))
    axis.set_title(f"{name}: mean {error.mean():.2f} px", fontsize=9)
    figure.colorbar(points, ax=axis, fraction=0.04, label="px from float")
  figure.suptitle(f"Per-landmark error against float on {photo.name} (not used for calibration)")
  figure.tight_layout()
  figure.savefig(plots / "landmark_error.png", dpi=100)
  plt.close(figure)


def run():
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("GLOG_minloglevel", "2")

  def guarded(argv):
    try:
      return main(argv)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      return 1
  _define_flags()
  app.run(guarded)


if __name__ == "__main__":
  run()
