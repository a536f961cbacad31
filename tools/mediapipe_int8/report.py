"""The run's report: a short table for people, JSON for machines.

The JSON holds no times and no paths, so the same input gives the same report.
"""

import dataclasses
import json
import math


@dataclasses.dataclass
class Record:
  """What one run reports, collected as it goes; every field of the report is formatted here."""
  entries: list[dict] = dataclasses.field(default_factory=list)
  models: list[dict] = dataclasses.field(default_factory=list)
  auto: list[dict] = dataclasses.field(default_factory=list)
  budget_checks: list[dict] = dataclasses.field(default_factory=list)
  skipped_photo_checks: list[str] = dataclasses.field(default_factory=list)
  warnings: list[str] = dataclasses.field(default_factory=list)

  def entry(self, name: str, action: str, recipe: str | None = None, why: str | None = None) -> None:
    """An entry of the bundle: quantized, copied, excluded, or a nested bundle; `why` where it
    is not what its recipe says."""
    self.entries.append({"name": name, "action": action} | ({"recipe": recipe} if recipe else {})
                        | ({"why": why} if why else {}))

  def model(self, name: str, recipe: str, bytes_before: int, bytes_after: int, ops: dict,
            **details) -> None:
    """A model's row. `details`, each only where it applies: float16_constants_folded,
    sparse_constants_densified, io,
    calibration (calibrate.Samples), errors (check.OutputError list), landmarks
    (check.LandmarkError), static (quantize.StaticOptions), rewrites, auto (float_ops, fallback)."""
    row = {"name": name, "recipe": recipe, "bytes_before": bytes_before, "bytes_after": bytes_after,
           "ops": ops}
    for key in ("float16_constants_folded", "sparse_constants_densified", "io", "rewrites"):
      if key in details:
        row[key] = details[key]
    samples = details.get("calibration")
    if samples is not None:
      row["calibration"] = {"samples": len(samples.calibration), "held_back": len(samples.held_back),
                            "source": samples.source, "clamps": samples.clamps}
    if details.get("errors") is not None:
      row["outputs"] = [{"name": e.name, "max_abs_error": e.max_abs, "sqnr_db": e.sqnr_db}
                        for e in details["errors"]]
    if details.get("landmarks") is not None:
      row["landmarks_px"] = {"mean": details["landmarks"].mean_px, "max": details["landmarks"].max_px}
    if details.get("static") is not None:
      row["static"] = dataclasses.asdict(details["static"])
    if "auto" in details:
      float_ops, fallback = details["auto"]
      row["auto"] = {"ops_moved_to_float": float_ops, "fallback_recipe": fallback}
    self.models.append(row)

  def as_dict(self, input_name: str, input_bytes: int, output_bytes: int,
              photo_names: list[str]) -> dict:
    return {"input": input_name, "input_bytes": input_bytes, "output_bytes": output_bytes,
            "calibration_photos": photo_names, "entries": self.entries, "models": self.models,
            "auto": self.auto, "budget_checks": self.budget_checks,
            "skipped_photo_checks": self.skipped_photo_checks, "warnings": self.warnings}


def to_json(report: dict) -> bytes:
  """The report, and its table for people (what the command prints without --quiet)."""
  return (json.dumps(_finite({**report, "table": table(report)}), indent=2, sort_keys=True)
          + "\n").encode()


# Quantization parameters are the model's own float32 values: written exactly, so users convert
# values as the model does.
_EXACT = frozenset({"scale"})


def _finite(value, exact: bool = False):
  """JSON has no infinity: an exact match (SQNR inf) is written as null; floats get 6 digits,
  but for the keys in _EXACT."""
  if isinstance(value, float):
    if math.isinf(value) or math.isnan(value):
      return None
    return value if exact else float(f"{value:.6g}")
  if isinstance(value, dict):
    return {k: _finite(v, k in _EXACT) for k, v in value.items()}
  if isinstance(value, list):
    return [_finite(v) for v in value]
  return value


def table(report: dict) -> str:
  lines = [f"{report['input']}: {report['input_bytes']:,} -> {report['output_bytes']:,} bytes "
           f"({100.0 * report['output_bytes'] / report['input_bytes']:.0f}%)"]
  header = f"{'model':<34} {'recipe':<16} {'bytes':>21} {'int8 ops':>9} {'float ops':>9}  worst output (max abs, SQNR)   landmarks px (mean/max)"
  lines.append(header)
  for model in report["models"]:
    counts = {}
    for per_type in model["ops"].values():
      for precision, n in per_type.items():
        counts[precision] = counts.get(precision, 0) + n
    int_ops = counts.get("int8", 0) + counts.get("int16", 0)
    float_ops = counts.get("float", 0) + counts.get("float, int8 weights", 0)
    worst = "-"
    if model.get("outputs"):
      o = min(model["outputs"], key=lambda o: o["sqnr_db"])
      worst = f"{o['max_abs_error']:.4g}, {o['sqnr_db']:.1f} dB"
    marks = "-"
    if "landmarks_px" in model:
      marks = f"{model['landmarks_px']['mean']:.2f} / {model['landmarks_px']['max']:.2f}"
    sizes = f"{model['bytes_before']:,} -> {model['bytes_after']:,}"
    lines.append(f"{model['name']:<34} {model['recipe']:<16} {sizes:>21} {int_ops:>9} {float_ops:>9}  "
                 f"{worst:<29} {marks}")
  return "\n".join(lines)
