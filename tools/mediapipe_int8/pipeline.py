"""One pass over a bundle: read, then per model prepare, calibrate, quantize, check; then write.

Data flows one way. Nothing is written until every model has passed its
checks, and then only through a temporary file and a rename.
"""

import dataclasses
import os
import time

from mediapipe_int8 import bundle, calibrate, check, graph_stats, image_input, mixed_precision, photos
from mediapipe_int8 import landmarkers, load_check, output_paths, prepare, progress, quantize, recipes
from mediapipe_int8 import report
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
  if options.static.reconstruct_steps > 0 and not (options.calibration_dir or
                                                   options.calibration_images):
    raise UserError(f"--reconstruct_steps={options.static.reconstruct_steps} trains on calibration "
                    "photos: pass --calibration_dir")
  output_paths.check(options.input, options.output, options.report)
  data = _read_input(options.input)
  _check_io(options, data)
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
  result = job.record.as_dict(os.path.basename(options.input), len(data), len(output),
                              [p.name for p in photo_list])
  load_check.check_loads([(source, model) for source, model, _ in job.outputs],
                         [feed for _, _, feed in job.outputs])
  files = [(options.output, output)]
  if options.report and to_json is not None:
    files.append((options.report, to_json(result)))
  bundle.write_files_atomically(files)
  return result


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


def _check_io(options: Options, data: bytes) -> None:
  """--io=int8 only for a single .tflite whose recipe calibrates int8 activations."""
  io = options.static.io
  if io not in recipes.IO_TYPES:
    raise UserError(f"--io={io}: unknown; known: {', '.join(recipes.IO_TYPES)}")
  if io == "float":
    return
  if not tflite_file.is_tflite(data):
    raise UserError(f"{options.input}: --io=int8 is for a single .tflite model: MediaPipe's runtime "
                    "rejects int8 model inputs in a bundle (`Type mismatch for input tensor ... "
                    "got INT8`); pass one model of the bundle, or drop --io")
  recipe = options.model_recipes.get(os.path.basename(options.input), options.recipe)
  if not recipes.supports_int8_io(recipe):
    raise UserError(f"{options.input}: --io=int8 needs calibrated int8 activations, which recipe "
                    f"{recipe} does not have: use --recipe=int8 with --calibration_dir")
  if options.static.output_templates:
    raise UserError(f"{options.input}: --io=int8 can't keep output templates (they add a float op "
                    "after each int8 output): drop --reconstruct_steps")


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


@dataclasses.dataclass(frozen=True)
class _Built:
  model: object  # the quantized ModelT
  rewrites: dict
  auto: tuple | None  # (ops moved to float, fallback recipe) where the auto search made it


class _Job:
  """One run over a bundle: per model, build the quantized model (`_build`), then check it and
  record it (`_check`); the report collects in `record`."""

  def __init__(self, options: Options, photo_list):
    self.options = options
    self.photos = photo_list
    self.record = report.Record()  # warnings are also printed on stderr as they come
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
        self.record.entry(path, "excluded")
      elif entry.name in prepared:
        out.append(bundle.Entry(entry.name, self.model(
            entry.data, path, sources[entry.name], samples.get(entry.name), prepared[entry.name],
            prebuilt.get(entry.name))))
      elif _is_nested_bundle(entry):
        out.append(bundle.Entry(entry.name, self.bundle(entry.data, f"{source}/{entry.name}", path + "/")))
        self.record.entry(path, "bundle")
      else:
        out.append(entry)
        self.record.entry(path, "copied")
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
    self.record.budget_checks.append({"bundle": prefix.rstrip("/") or os.path.basename(source),
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
                                              _unquantized(n, prepared[n].model),
                                              samples[n].correct_biases)
                     for n in names}
    kept = [e for e in entries if prefix + e.name not in self.options.exclude]
    held = calibrate.split_photos(self.photos)[1] if self.photos else []
    result = mixed_precision.search(quantizations, samples, kept, held, self.options.budget)
    self.record.auto.append({"bundle": prefix.rstrip("/") or os.path.basename(source),
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
      return self._warn_about(calibrate.make_samples(
          model_infos, needs, data, self.photos, self.options.num_calibration_samples, random_names,
          source, frozenset(held_only)))
    except UserError as e:
      if needs or not held_only:
        raise
      why = str(e)
    # No model needs calibration: the photos only served checks, and they can't. Go on without.
    progress.report(f"{source}: photo checks skipped ({why})")
    self.record.skipped_photo_checks.append(why)
    return calibrate.make_samples(model_infos, needs, data, self.photos,
                                  self.options.num_calibration_samples, random_names, source)

  def _warn_about(self, samples: dict[str, calibrate.Samples]) -> dict[str, calibrate.Samples]:
    for name in sorted(samples):
      if samples[name].warning:
        self.record.warnings.append(samples[name].warning)
        progress.report(f"warning: {samples[name].warning}")
    return samples

  def model(self, data: bytes, path: str, where: str, samples, prepared=None, prebuilt=None) -> bytes:
    """The quantized bytes of one model (`data` itself where its recipe or the search keeps it)."""
    recipe = self.recipe_for(path)
    if recipe == recipes.NONE:
      self.record.entry(path, "copied", recipe)
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
    float_bytes = tflite_file.serialize(prepared.model)  # before the engine sees the model
    built = self._build(recipe, path, where, prepared, samples, prebuilt)
    if built is None:  # the search kept the source model: its own bytes go out
      self.record.entry(path, "copied", recipe)
      self.record.model(path, recipe, len(data), len(data), {}, auto=([], recipes.NONE))
      return data
    output = self._check(built, recipe, data, path, where, prepared, float_bytes, samples)
    progress.report(f"{path}: checked ({time.monotonic() - started:.1f} s)")
    return output

  def _build(self, recipe, path, where, prepared, samples, prebuilt) -> _Built | None:
    """The quantized model of `recipe`: from the bundle's search (`prebuilt`), a search of its
    own (`auto` for a single model, judged by its outputs' SQNR), or the recipe as it is. None
    where the search keeps the source model."""
    if prebuilt is not None:
      quantized, rewrites, float_ops, fallback = prebuilt
      return None if fallback == recipes.NONE else _Built(quantized, rewrites, (float_ops, fallback))
    if recipe == recipes.AUTO:
      quantization = quantize.Quantization(prepared, where, self.options.static,
                                           samples.calibration, samples.clamps,
                                           _unquantized(path, prepared.model), samples.correct_biases)
      result = mixed_precision.search({path: quantization}, {path: samples}, None, [],
                                      self.options.budget)
      self.record.auto.append({"bundle": None, **result.report})
      if not result.report["holds"]:
        raise UserError(f"{where}: {mixed_precision.failure(result)}; nothing written")
      return _Built(result.models[path], result.rewrites[path],
                    (result.float_ops[path], result.fallback.get(path)))
    quantized, rewrites = quantize.Quantization(
        prepared, where, self.options.static, samples.calibration if samples else None,
        samples.clamps if samples else None, _unquantized(path, prepared.model),
        samples.correct_biases if samples else False).build(recipe)
    return _Built(quantized, rewrites, None)

  def _check(self, built: _Built, recipe, data, path, where, prepared, float_bytes, samples) -> bytes:
    """Refuses a model whose interface or metadata changed; measures it against float on the
    held-back samples; records it; returns its bytes (loaded in the runtime before writing)."""
    io = self.options.static.io if recipe == "int8" else "float"
    check.check_interface(prepared.model, built.model, where, io)
    check.check_metadata(prepared.model, built.model, where)
    output = tflite_file.with_associated_files(tflite_file.serialize(built.model), data)
    if recipe == "weight_only_int8" and prepared.densified and len(output) >= len(data):
      # Its only point is size. Sparse float16 weights (the pose detector's) can be smaller than
      # dense int8 ones: such a model goes out as it came.
      progress.report(f"{path}: weight-only int8 is not smaller ({len(output):,} bytes); copied")
      self.record.entry(path, "copied", recipe,
                        why=f"weight-only int8 makes it {len(output):,} bytes, not smaller")
      self.record.model(path, recipe, len(data), len(data), {}, errors=[])
      return data
    self.outputs.append((where, output, samples.held_back[0] if samples and samples.held_back else None))
    errors = landmarks = None
    if samples is not None:
      errors, landmarks = check.compare_held_back(prepared.model, float_bytes, output, samples)
    calibrated = recipes.needs_calibration(recipe) or bool(built.rewrites)  # or weight-only learned
    self.record.entry(path, "quantized", recipe)
    self.record.model(
        path, recipe, len(data), len(output), graph_stats.op_precisions(built.model),
        float16_constants_folded=prepared.folded_float16,
        sparse_constants_densified=prepared.densified, io=check.interface(built.model),
        calibration=samples, errors=errors, landmarks=landmarks,
        static=self.options.static if calibrated else None,
        **({"rewrites": built.rewrites} if calibrated else {}),
        **({"auto": built.auto} if recipe == recipes.AUTO else {}))
    return output


def _unquantized(path: str, model) -> frozenset[str]:
  """Ops that every recipe leaves float in the entry at `path` (landmarkers.unquantized_ops)."""
  return landmarkers.unquantized_ops(path.rsplit("/", 1)[-1], model)


def model_info(name: str, prepared: prepare.Preparation, source: str | None = None) -> calibrate.ModelInfo:
  graph = prepared.model.subgraphs[0]
  shapes = [tuple(int(d) for d in graph.tensors[i].shape) for i in graph.inputs]
  return calibrate.ModelInfo(name, tflite_file.serialize(prepared.model), shapes,
                             image_input.image_input(prepared.model, source or name))
