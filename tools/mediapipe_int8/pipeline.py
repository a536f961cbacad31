"""One pass over a bundle: read, then per model prepare, calibrate, quantize, check; then write.

Data flows one way. Nothing is written until every model has passed its
checks, and then only through a temporary file and a rename.
"""

import dataclasses
import os
import time

from mediapipe_int8 import bundle, calibrate, check, graph_stats, image_input, mixed_precision, photos
from mediapipe_int8 import landmarkers, load_check, output_paths, prepare, progress, quantize, recipes
from mediapipe_int8 import tflite_file, validate
from mediapipe_int8.errors import UserError


@dataclasses.dataclass
class Options:
  input: str
  output: str
  recipe: str = "int8"
  model_recipes: dict[str, str] = dataclasses.field(default_factory=dict)
  exclude: list[str] = dataclasses.field(default_factory=list)
  calibration_dir: str | None = None
  calibration_images: list[str] = dataclasses.field(default_factory=list)
  num_calibration_samples: int = 32
  random_calibration: list[str] = dataclasses.field(default_factory=list)
  static: quantize.StaticOptions = quantize.StaticOptions()
  budget: mixed_precision.Budget = mixed_precision.Budget()
  report: str | None = None


# More samples than this buy nothing and only take memory and time.
MAX_CALIBRATION_SAMPLES = 10_000


def run(options: Options, to_json=None) -> dict:
  """Quantizes options.input into options.output; returns the report.

  With `to_json` (report -> bytes) and options.report, the report is written too: both files, or
  neither.
  """
  _check_recipe_names(options)
  if not 1 <= options.num_calibration_samples <= MAX_CALIBRATION_SAMPLES:
    raise UserError(f"--num_calibration_samples={options.num_calibration_samples}: must be between "
                    f"1 and {MAX_CALIBRATION_SAMPLES}")
  output_paths.check(options.input, options.output, options.report)
  data = _read_input(options.input)
  names = _model_paths(data, options.input)
  for flag, given in (("--model_recipe", options.model_recipes), ("--exclude", options.exclude),
                      ("--random_calibration", options.random_calibration)):
    for name in given:
      if name not in names:
        raise UserError(f"{options.input}: {flag} names {name!r}, which is not an entry; "
                        f"entries: {', '.join(sorted(names))}")
  check_input(data, options.input, options.exclude)
  photo_list = photos.load(photos.photo_paths(options.calibration_dir, options.calibration_images)) \
      if options.calibration_dir or options.calibration_images else []
  job = _Job(options, photo_list)
  if not tflite_file.is_tflite(data):  # a .tflite may end with an (empty) zip: test it first
    output = job.bundle(data, options.input, prefix="")
  else:
    output = job.model(data, os.path.basename(options.input), options.input, None)
  report = {
      "input": os.path.basename(options.input),
      "input_bytes": len(data),
      "output_bytes": len(output),
      "calibration_photos": [p.name for p in photo_list],
      "entries": job.entries,
      "models": job.models,
      "auto": job.auto_reports,
      "budget_checks": job.budget_checks,
      "skipped_photo_checks": job.skipped_checks,
  }
  load_check.check_loads([(source, model) for source, model, _ in job.outputs],
                         [feed for _, _, feed in job.outputs])
  files = [(options.output, output)]
  if options.report and to_json is not None:
    files.append((options.report, to_json(report)))
  bundle.write_files_atomically(files)
  return report


def check_input(data: bytes, source: str, exclude=()) -> None:
  """Every model of the input that the run will use: checked against the schema, then loaded in
  the runtime in one child process. UserError for the first bad one."""
  load_check.check_loads(input_models(data, source, exclude))


def input_models(data: bytes, source: str, exclude=()) -> list[tuple[str, bytes]]:
  """(where, bytes) of every model of the input (a .task, nested ones too, or a .tflite) but the
  excluded, each checked against the schema (`validate`)."""
  if tflite_file.is_tflite(data):
    models = [(source, data)]
  else:
    def excluded(path):
      return any(path == e or path.startswith(e + "/") for e in exclude)
    models = [(where, entry.data) for path, where, entry in _walk(data, source)
              if entry.name.endswith(".tflite") and not excluded(path)]
    if not models:
      raise UserError(f"{source}: --exclude leaves no model to quantize")
  for where, blob in models:
    validate.model(blob, where)
  return models


def _check_recipe_names(options: Options) -> None:
  for where, recipe in [("--recipe", options.recipe)] + [
      (f"--model_recipe={n}", r) for n, r in options.model_recipes.items()]:
    if recipe not in recipes.RECIPES:
      raise UserError(f"{where}: unknown recipe {recipe!r}; known: {', '.join(recipes.RECIPES)}")


def _read_input(path: str) -> bytes:
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise UserError(f"{path}: input file does not exist") from None
  except OSError as e:
    raise UserError(f"{path}: input file cannot be read ({e.strerror})") from None
  if not bundle.is_zip(data) and not tflite_file.is_tflite(data):
    raise UserError(f"{path}: not a .task bundle (zip) nor a .tflite model")
  return data


def _model_paths(data: bytes, source: str) -> set[str]:
  """Every entry path in the input (nested ones as outer.task/inner); error if no model at all."""
  if tflite_file.is_tflite(data):
    return {os.path.basename(source)}
  entries = list(_walk(data, source))
  if not any(entry.name.endswith(".tflite") for _, _, entry in entries):
    raise UserError(f"{source}: bundle holds no .tflite model")
  return {path for path, _, _ in entries}


def _walk(data: bytes, where: str, prefix: str = ""):
  """(path, where, entry) for every entry of a bundle, nested bundles' entries after their own."""
  for entry in bundle.read_entries(data, where):
    yield prefix + entry.name, f"{where}/{entry.name}", entry
    if _is_nested_bundle(entry):
      yield from _walk(entry.data, f"{where}/{entry.name}", prefix + entry.name + "/")


def _is_nested_bundle(entry: bundle.Entry) -> bool:
  return entry.name.endswith(".task") and bundle.is_zip(entry.data)


class _Job:
  """The state of one run: options, photos, and what the report collects."""

  def __init__(self, options: Options, photo_list):
    self.options = options
    self.photos = photo_list
    self.entries: list[dict] = []
    self.models: list[dict] = []
    self.auto_reports: list[dict] = []
    self.budget_checks: list[dict] = []
    self.skipped_checks: list[str] = []
    # (source, quantized model, a held-back sample or None), loaded before writing
    self.outputs: list[tuple[str, bytes, list | None]] = []

  def recipe_for(self, path: str) -> str:
    return self.options.model_recipes.get(path, self.options.recipe)

  def bundle(self, data: bytes, source: str, prefix: str) -> bytes:
    entries = bundle.read_entries(data, source)
    prepared, model_infos, sources = {}, {}, {}
    for entry in entries:
      path = prefix + entry.name
      if entry.name.endswith(".tflite") and path not in self.options.exclude:
        where = f"{source}/{entry.name}"
        sources[entry.name] = where
        prepared[entry.name] = self._prepare(entry.data, path, where)
        model_infos[entry.name] = model_info(entry.name, prepared[entry.name], where)
    needs = {n for n in prepared if recipes.needs_calibration(self.recipe_for(prefix + n))}
    samples = self._samples(model_infos, needs, data, source, prefix)
    prebuilt = self._auto(prepared, sources, samples, entries, prefix, source)
    out = []
    for entry in entries:
      path = prefix + entry.name
      if path in self.options.exclude:
        self.entries.append({"name": path, "action": "excluded"})
      elif entry.name in prepared:
        out.append(bundle.Entry(entry.name, self.model(
            entry.data, path, sources[entry.name], samples.get(entry.name), prepared[entry.name],
            prebuilt.get(entry.name))))
      elif _is_nested_bundle(entry):
        out.append(bundle.Entry(entry.name, self.bundle(entry.data, f"{source}/{entry.name}", path + "/")))
        self.entries.append({"name": path, "action": "bundle"})
      else:
        out.append(entry)
        self.entries.append({"name": path, "action": "copied"})
    data_out = bundle.write_entries(out)
    self._enforce_budget(entries, data_out, prefix, source, bool(prebuilt))
    return data_out

  def _enforce_budget(self, entries, data_out, prefix, source, searched) -> None:
    """With --budget_nme or --budget_blendshapes, a face or hand landmarker bundle is judged end to
    end on the held-back photos before anything is written; `auto` bundles were judged by their
    search."""
    budget = self.options.budget
    if searched or (budget.nme is None and budget.blendshapes is None):
      return
    kind = landmarkers.kind_of(e.name for e in entries)
    if kind is None or not self.photos:
      raise UserError(f"{source}: --budget_nme/--budget_blendshapes judge face and hand landmarker "
                      "bundles end to end and need calibration photos")
    kept = [e for e in entries if prefix + e.name not in self.options.exclude]
    judge = mixed_precision.EndToEnd(kind, kept, calibrate.split_photos(self.photos)[1], budget)
    measured = judge.measure_bundle(data_out)
    self.budget_checks.append({"bundle": prefix.rstrip("/") or os.path.basename(source),
                               "budget": {"nme": judge.nme, "blendshapes": judge.blendshapes,
                                          "lost": judge.lost},
                               "measured": measured, "holds": judge.holds(measured)})
    if not judge.holds(measured):
      raise UserError(f"{source}: the quantized bundle exceeds the error budget on held-back photos "
                      f"(NME {measured['mean_nme']:.4f} against {judge.nme:.4f}, blendshapes "
                      f"{measured['blendshape_max_abs'] or 0:.3f} against {judge.blendshapes or 0:.3f}, "
                      f"{measured['lost']} {kind.noun}s lost, {judge.lost} allowed); "
                      "nothing written")

  def _auto(self, prepared, sources, samples, entries, prefix, source) -> dict:
    """Runs the mixed-precision search over this bundle's `auto` models; name -> prebuilt."""
    names = sorted(n for n in prepared if self.recipe_for(prefix + n) == recipes.AUTO)
    if not names:
      return {}
    quantizations = {n: quantize.Quantization(prepared[n], sources[n], self.options.static,
                                              samples[n].calibration, samples[n].clamps,
                                              _unquantized(n))
                     for n in names}
    kept = [e for e in entries if prefix + e.name not in self.options.exclude]
    held = calibrate.split_photos(self.photos)[1] if self.photos else []
    result = mixed_precision.search(quantizations, samples, kept, held, self.options.budget)
    self.auto_reports.append({"bundle": prefix.rstrip("/") or os.path.basename(source),
                              **result.report})
    if not result.report["holds"]:
      raise UserError(f"{source}: {mixed_precision.failure(result)}; nothing written")
    return {n: (result.models[n], result.rewrites[n], result.float_ops[n], result.fallback.get(n))
            for n in names}

  def _prepare(self, data: bytes, path: str, where: str) -> prepare.Preparation:
    progress.report(f"{path}: prepare")
    return prepare.prepare(tflite_file.parse(data, where), where)  # check_input validated it

  def _samples(self, model_infos, needs, data, source, prefix):
    random_names = {n for n in model_infos if prefix + n in self.options.random_calibration}
    if not needs and not random_names and not self.photos:
      return {}
    held_only = set(model_infos) - needs  # held-back samples still serve the checks of other recipes
    progress.report(f"{source}: calibrate {', '.join(sorted(needs)) or '-'} "
             f"({self.options.num_calibration_samples} samples each)")
    try:
      return calibrate.make_samples(model_infos, needs, data, self.photos,
                                    self.options.num_calibration_samples, random_names, source,
                                    frozenset(held_only))
    except UserError as e:
      if needs or not held_only:
        raise
      why = str(e)
    # No model needs calibration: the photos only served checks, and they can't. Go on without.
    progress.report(f"{source}: photo checks skipped ({why})")
    self.skipped_checks.append(why)
    return calibrate.make_samples(model_infos, needs, data, self.photos,
                                  self.options.num_calibration_samples, random_names, source)

  def model(self, data: bytes, path: str, where: str, samples, prepared=None, prebuilt=None) -> bytes:
    recipe = self.recipe_for(path)
    if recipe == recipes.NONE:
      self.entries.append({"name": path, "action": "copied", "recipe": recipe})
      return data
    if prepared is None:
      prepared = self._prepare(data, path, where)
      needs = {path} if recipes.needs_calibration(recipe) else set()
      samples = calibrate.make_samples(
          {path: model_info(path, prepared, where)}, needs, None, self.photos,
          self.options.num_calibration_samples, set(self.options.random_calibration), where,
          frozenset({path}) - needs).get(path)
    if recipes.needs_calibration(recipe) and samples is None:
      raise UserError(f"{where}: recipe {recipe} needs calibration photos: pass --calibration_dir")
    progress.report(f"{path}: quantize ({recipe})")
    started = time.monotonic()
    float_bytes = tflite_file.serialize(prepared.model)
    if prebuilt is not None:
      quantized, rewrites, float_ops, fallback = prebuilt
      if fallback == recipes.NONE:  # the search kept the source model: its own bytes go out
        self.entries.append({"name": path, "action": "copied", "recipe": recipe})
        self.models.append({"name": path, "recipe": recipe, "bytes_before": len(data),
                            "bytes_after": len(data), "ops": {},
                            "auto": {"ops_moved_to_float": [], "fallback_recipe": fallback}})
        return data
    elif recipe == recipes.AUTO:  # a single model: judged by its outputs' SQNR
      quantization = quantize.Quantization(prepared, where, self.options.static,
                                           samples.calibration, samples.clamps, _unquantized(path))
      result = mixed_precision.search({path: quantization}, {path: samples}, None, [],
                                      self.options.budget)
      self.auto_reports.append({"bundle": None, **result.report})
      if not result.report["holds"]:
        raise UserError(f"{where}: {mixed_precision.failure(result)}; nothing written")
      quantized, rewrites = result.models[path], result.rewrites[path]
      float_ops, fallback = result.float_ops[path], result.fallback.get(path)
    else:
      quantized, rewrites = quantize.Quantization(
          prepared, where, self.options.static, samples.calibration if samples else None,
          samples.clamps if samples else None, _unquantized(path)).build(recipe)
      float_ops, fallback = None, None
    check.check_interface(prepared.model, quantized, where)
    check.check_metadata(prepared.model, quantized, where)
    output = tflite_file.with_associated_files(tflite_file.serialize(quantized), data)
    if recipe == "weight_only_int8" and prepared.densified and len(output) >= len(data):
      # Its only point is size. Sparse float16 weights (the pose detector's) can be smaller than
      # dense int8 ones: such a model goes out as it came.
      progress.report(f"{path}: weight-only int8 is not smaller ({len(output):,} bytes); copied")
      self.entries.append({"name": path, "action": "copied", "recipe": recipe,
                           "why": f"weight-only int8 makes it {len(output):,} bytes, not smaller"})
      self.models.append({"name": path, "recipe": recipe, "bytes_before": len(data),
                          "bytes_after": len(data), "ops": {}, "outputs": []})
      return data
    self.outputs.append((where, output, samples.held_back[0] if samples and samples.held_back else None))
    progress.report(f"{path}: check ({time.monotonic() - started:.1f} s so far)")
    self.entries.append({"name": path, "action": "quantized", "recipe": recipe})
    report = _model_report(path, recipe, data, output, prepared, quantized, float_bytes, samples)
    if recipes.needs_calibration(recipe):
      report["static"] = dataclasses.asdict(self.options.static)
      report["rewrites"] = rewrites
    if recipe == recipes.AUTO:
      report["auto"] = {"ops_moved_to_float": float_ops, "fallback_recipe": fallback}
    self.models.append(report)
    return output


def _unquantized(path: str) -> frozenset[str]:
  """Ops that every recipe leaves float in the entry at `path` (a landmarker's known sensitive ops)."""
  return landmarkers.unquantized_ops(path.rsplit("/", 1)[-1])


def model_info(name: str, prepared: prepare.Preparation, source: str | None = None) -> calibrate.ModelInfo:
  graph = prepared.model.subgraphs[0]
  shapes = [tuple(int(d) for d in graph.tensors[i].shape) for i in graph.inputs]
  return calibrate.ModelInfo(name, tflite_file.serialize(prepared.model), shapes,
                             image_input.image_input(prepared.model, source or name))


def _model_report(path, recipe, data, output, prepared, quantized, float_bytes, samples) -> dict:
  report = {
      "name": path,
      "recipe": recipe,
      "bytes_before": len(data),
      "bytes_after": len(output),
      "float16_constants_folded": prepared.folded_float16,
      "sparse_constants_densified": prepared.densified,
      "ops": graph_stats.op_precisions(quantized),
  }
  if samples is not None:
    errors, landmarks = check.compare_held_back(prepared.model, float_bytes, output, samples)
    report["calibration"] = {"samples": len(samples.calibration), "held_back": len(samples.held_back),
                             "source": samples.source, "clamps": samples.clamps}
    report["outputs"] = [{"name": e.name, "max_abs_error": e.max_abs, "sqnr_db": e.sqnr_db} for e in errors]
    if landmarks is not None:
      report["landmarks_px"] = {"mean": landmarks.mean_px, "max": landmarks.max_px}
  return report
