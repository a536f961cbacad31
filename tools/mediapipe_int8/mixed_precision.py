"""The `auto` recipe: int8, with the fewest and most sensitive ops moved to float until the error
budget holds.

1. Every model starts all int8.
2. Sensitivity is measured, not guessed: each model's ops are cut into contiguous groups, and for
   each group the model is quantized with that group in float (int8 weights), and its error on
   held-back samples is compared with all-int8 (landmark pixels for the landmarks model, output
   noise-to-signal for the others).
3. Groups move to float in order of what they bought, one at a time, until the budget holds. For a
   face or hand landmarker bundle the budget is judged end to end: the candidate bundle runs in
   MediaPipe's runtime on the held-back photos next to the float bundle, since a detector change moves the
   landmark model's crop and that alone shifts landmarks. Elsewhere each output's SQNR must reach
   the floor.
4. If every group has moved and the budget still fails, whole models fall back to weight-only int8.

Each step is recorded: which ops moved and what the move bought. Everything is deterministic:
fixed samples, fixed group order, ties broken by name.
"""

import dataclasses
import math

import numpy as np

from mediapipe_int8 import bundle, calibrate, check, evaluate, landmarkers, progress, tflite_file
from mediapipe_int8.errors import UserError
from mediapipe_int8.photos import Photo
from mediapipe_int8.quantize import Quantization

GROUPS_PER_MODEL = 8
MIN_GAIN = 0.02  # a group that improves its model's error by less than 2% is never moved


@dataclasses.dataclass(frozen=True)
class Budget:
  nme: float | None = None  # None: float's own NME when the photo moves one pixel
  blendshapes: float | None = None  # None: float's own largest score change under that move
  sqnr_db: float = 25.0  # per-output floor where no end-to-end measure exists


@dataclasses.dataclass
class Result:
  models: dict[str, object]  # name -> quantized ModelT
  rewrites: dict[str, dict]
  float_ops: dict[str, list[str]]
  fallback: dict[str, str]  # name -> recipe for models that left int8 altogether
  report: dict


def _groups(ops: list[str]) -> list[list[str]]:
  return [list(g) for g in np.array_split(np.array(ops, dtype=object), min(GROUPS_PER_MODEL, len(ops)))
          if len(g)]


def _proxy(quantization: Quantization, model, samples: calibrate.Samples) -> float:
  """One number per model, lower is better: landmark px, else the worst output's noise/signal."""
  errors, landmarks = check.compare_held_back(quantization.prepared.model, quantization.float_bytes,
                                              tflite_file.serialize(model), samples)
  if landmarks is not None:
    return landmarks.mean_px
  return max(0.0 if math.isinf(e.sqnr_db) else 10 ** (-e.sqnr_db / 10) for e in errors)


class EndToEnd:
  """Judges candidate bundles in MediaPipe's runtime against the float bundle."""

  def __init__(self, kind: landmarkers.Kind, entries: list[bundle.Entry], photos: list[Photo],
               budget: Budget):
    self.kind = kind
    self.entries = entries
    self.photos = [view for photo in photos for view in evaluate.views(photo)]
    float_bundle = bundle.write_entries(entries)
    self.has_blendshapes = any(e.name == kind.blendshapes for e in entries)
    self.reference = evaluate.detect_all(kind, float_bundle, self.photos, self.has_blendshapes)
    floor = evaluate.float_jitter(kind, float_bundle, self.photos, self.reference, self.has_blendshapes)
    if not floor.reference_count:
      raise UserError(f"the float bundle finds no {kind.noun} in the held-back photos ("
                      + ", ".join(p.name for p in photos) + f"); give more calibration photos with "
                      f"{kind.noun}s")
    self.nme = budget.nme if budget.nme is not None else floor.mean_nme
    # Float itself may lose a borderline face or hand when the photo moves one pixel; as many may go.
    self.lost = floor.lost
    self.blendshapes = budget.blendshapes if budget.blendshapes is not None else floor.blendshape_max
    self.floor = floor.as_dict()

  def measure(self, models: dict[str, object]) -> dict:
    entries = [bundle.Entry(e.name, tflite_file.with_associated_files(
        tflite_file.serialize(models[e.name]), e.data) if e.name in models else e.data)
               for e in self.entries]
    return self.measure_bundle(bundle.write_entries(entries))

  def measure_bundle(self, data: bytes) -> dict:
    candidate = evaluate.detect_all(self.kind, data, self.photos, self.has_blendshapes)
    return evaluate.compare(self.kind, self.reference, candidate, self.photos).as_dict()

  def holds(self, measured: dict) -> bool:
    return self.score(measured) <= (0, 1.0)

  def score(self, measured: dict) -> tuple[int, float]:
    """Lower is better: (faces or hands lost beyond float's own, worst error over its budget); a
    lost one outweighs any landmark error. At most (0, 1) where the budget holds."""
    excess = max(0, measured["lost"] - self.lost)
    ratio = measured["mean_nme"] / self.nme if measured["found"] > measured["lost"] else 0.0
    if self.has_blendshapes and measured["blendshape_max_abs"] is not None:
      ratio = max(ratio, measured["blendshape_max_abs"] / self.blendshapes)
    return excess, ratio


class _PerModel:
  """Judges candidates by each output's SQNR where no pipeline is known."""

  def __init__(self, quantizations, samples, budget: Budget):
    self.quantizations, self.samples, self.floor_db = quantizations, samples, budget.sqnr_db

  def measure(self, models: dict[str, object]) -> dict:
    worst = {}
    for name, model in models.items():
      q = self.quantizations[name]
      errors, _ = check.compare_held_back(q.prepared.model, q.float_bytes,
                                          tflite_file.serialize(model), self.samples[name])
      worst[name] = min(e.sqnr_db for e in errors)
    return {"worst_sqnr_db": worst}

  def holds(self, measured: dict) -> bool:
    return self.score(measured) <= (0, 1.0)

  def score(self, measured: dict) -> tuple[int, float]:
    """Lower is better; at most (0, 1) where every output reaches the SQNR floor."""
    return 0, max(10 ** ((self.floor_db - v) / 10) for v in measured["worst_sqnr_db"].values())


def _describe(score: tuple[int, float]) -> str:
  return f"{score[0]} lost beyond float's own, error {score[1]:.2f}x the budget"


def _short(name: str) -> str:
  """A tensor name short enough for a report: its last path part."""
  return name.split(";")[-1].split("/")[-1][-40:]


def search(quantizations: dict[str, Quantization], samples: dict[str, calibrate.Samples],
           entries: list[bundle.Entry] | None, held_photos: list[Photo], budget: Budget) -> Result:
  names = sorted(quantizations)
  models, rewrites = {}, {}
  for name in names:
    models[name], rewrites[name] = quantizations[name].build("auto")
  kind = landmarkers.kind_of(e.name for e in entries) if entries is not None else None
  end_to_end = kind is not None and bool(held_photos)
  judge = (EndToEnd(kind, entries, held_photos, budget) if end_to_end
           else _PerModel(quantizations, samples, budget))

  progress.report("auto: measuring sensitivity")
  groups, moves = {}, []
  for name in names:
    q = quantizations[name]
    groups[name] = _groups(q.integer_ops())
    base = _proxy(q, models[name], samples[name])
    for index, group in enumerate(groups[name]):
      trial, _ = q.build("auto", frozenset(group))
      gain = (base - _proxy(q, trial, samples[name])) / base if base > 0 else 0.0
      moves.append((-gain, name, index))
  moves.sort()

  measured = judge.measure(models)
  steps = [{"move": "all int8", "measured": measured}]
  in_float = {name: set() for name in names}
  for negative_gain, name, index in moves:
    if judge.holds(measured) or -negative_gain < MIN_GAIN:
      break
    trial_float = in_float[name] | set(groups[name][index])
    trial = dict(models)
    trial[name], _ = quantizations[name].build("auto", frozenset(trial_float))
    trial_measured = judge.measure(trial)
    accepted = judge.score(trial_measured) < judge.score(measured)
    steps.append({"move": f"{name}: ops {_short(groups[name][index][0])} .. "
                          f"{_short(groups[name][index][-1])} ({len(groups[name][index])} ops) to float",
                  "model_error_gain": round(-negative_gain, 4), "measured": trial_measured,
                  "accepted": accepted})
    progress.report(f"auto: {steps[-1]['move']}: {'kept' if accepted else 'undone'}, "
                    f"{_describe(judge.score(trial_measured))}")
    if accepted:
      in_float[name], models, measured = trial_float, trial, trial_measured

  # Last resort, most sensitive models first: weight-only int8, then the source model itself,
  # again and again while a move still helps (a model's move can pay only once another's has).
  fallback = {}
  order = list(dict.fromkeys(name for _, name, _ in moves))
  ladder = ("weight_only_int8", "none")
  changed = True
  while changed and not judge.holds(measured):
    changed = False
    for recipe in ladder:
      for name in order:
        if judge.holds(measured) or ladder.index(recipe) <= ladder.index(fallback.get(name, recipe)) \
            and name in fallback:
          continue
        trial = dict(models)
        if recipe == "none":
          trial[name], trial_rewrites = quantizations[name].prepared.model, {}
        else:
          trial[name], trial_rewrites = quantizations[name].build(recipe)
        trial_measured = judge.measure(trial)
        accepted = judge.score(trial_measured) < judge.score(measured)
        steps.append({"move": f"{name}: whole model to {recipe}", "measured": trial_measured,
                      "accepted": accepted})
        progress.report(f"auto: {steps[-1]['move']}: {'kept' if accepted else 'undone'}, "
                        f"{_describe(judge.score(trial_measured))}")
        if accepted:
          models, measured, rewrites[name], fallback[name] = trial, trial_measured, trial_rewrites, recipe
          in_float[name] = set()
          changed = True

  holds = judge.holds(measured) and not all(fallback.get(n) == "none" for n in names)
  report = {"budget": {"nme": getattr(judge, "nme", None),
                       "lost": getattr(judge, "lost", None),
                       "blendshapes": getattr(judge, "blendshapes", None),
                       "sqnr_db": budget.sqnr_db if isinstance(judge, _PerModel) else None},
            "floor": getattr(judge, "floor", None),
            "held_back_photos": [p.name for p in held_photos] if end_to_end else [],
            "holds": holds, "steps": steps}
  return Result(models, rewrites, {n: sorted(in_float[n]) for n in names}, fallback, report)


def failure(result: Result) -> str:
  """Why a search failed, in one line: the budget and what the best mix reached."""
  budget = {k: round(v, 4) for k, v in result.report["budget"].items() if v is not None}
  if result.fallback and all(r == "none" for r in result.fallback.values()) and \
      len(result.fallback) == len(result.models):
    return (f"only the float models meet the error budget {budget}; loosen it "
            "(--budget_nme, --budget_blendshapes, --budget_sqnr_db) or pick a recipe")
  best = [s for s in result.report["steps"] if s.get("accepted", True)][-1]["measured"]
  best = {k: round(v, 4) if isinstance(v, float) else v for k, v in best.items()}
  return f"no mix of precisions meets the error budget {budget}; the last one kept reached {best}"
