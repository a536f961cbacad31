"""Structure-aware fuzzing: seeded random damage to flatbuffer fields must give the promise.

Each case is a seed model (the synthetic ones and the real face detector) with one or two fields
changed (`model_mutations`: indices, shapes, buffer sizes and offsets, types, opcodes, metadata,
names, subgraph count). The promise for each: an error naming the model, in one line, and no
output; or a success whose output loads in LiteRT.

Cheap where it can be: every case goes through the checks the command line runs first
(`pipeline.input_models`, then `load_check` with all survivors in one child process); a sample of
the models that pass runs the whole pipeline in this process, and a few cases run the real command.
MEDIAPIPE_INT8_FUZZ_CASES=5000 runs longer (default 200); MEDIAPIPE_INT8_FUZZ_SEED picks another
sequence.
"""

import os
import time
import zipfile

import numpy as np
import pytest

import model_mutations
import synthetic
from conftest import run_cli
from mediapipe_int8 import load_check, pipeline
from mediapipe_int8.errors import UserError

CASES = int(os.environ.get("MEDIAPIPE_INT8_FUZZ_CASES", "200"))
SEED = int(os.environ.get("MEDIAPIPE_INT8_FUZZ_SEED", "20261202"))
IN_PROCESS_RUNS = max(12, CASES // 20)  # of the models that pass the checks: whole pipeline
COMMAND_LINE_RUNS = 3


@pytest.fixture(scope="module")
def seeds(face_landmarker_task):
  with zipfile.ZipFile(face_landmarker_task) as archive:
    detector = archive.read("face_detector.tflite")
  return [synthetic.image_model(), synthetic.points_model(), detector]


def _cases(seeds, directory):
  """(path of a one-model bundle, what was done) for each case; the same for the same SEED."""
  rng = np.random.default_rng(SEED)
  cases = []
  while len(cases) < CASES:
    seed = seeds[len(cases) % len(seeds)]
    data, done = seed, []
    for _ in range(int(rng.integers(1, 3))):
      mutation = model_mutations.MUTATIONS[int(rng.integers(len(model_mutations.MUTATIONS)))]
      data, what = model_mutations.mutated(data, mutation, rng)
      done.append(f"{mutation.__name__}: {what}")
      if data is None:  # the flatbuffer can't hold that value: draw another case
        break
    if data is None:
      continue
    path = directory / f"case{len(cases):05d}.task"
    path.write_bytes(synthetic.bundle_of({"m.tflite": data}))
    cases.append((path, "; ".join(done)))
  return cases


def _one_line_naming(message: str, path) -> bool:
  return "\n" not in message and message.startswith(f"{path}")


def test_fuzzed_models_keep_the_promise(tmp_path, seeds):
  started = time.monotonic()
  cases = _cases(seeds, tmp_path)
  broken = []  # (case, what was done, what went wrong)
  survivors = []
  refused = 0
  for path, what in cases:
    try:
      models = pipeline.input_models(path.read_bytes(), str(path))
    except UserError as e:
      refused += 1
      if not _one_line_naming(str(e), path):
        broken.append((path.name, what, f"error not one line naming the file: {e}"))
      continue
    except Exception as e:  # anything but UserError breaks the promise
      broken.append((path.name, what, f"{type(e).__name__}: {e}"))
      continue
    survivors.append((path, what, models))
  failures = load_check.failures([m for _, _, models in survivors for m in models])
  loadable = [(p, w) for p, w, models in survivors if not any(m[0] in failures for m in models)]
  for where, message in failures.items():
    if "\n" in message:
      broken.append((where, "", f"load error not one line: {message}"))

  rng = np.random.default_rng(SEED + 1)
  chosen = [loadable[i] for i in sorted(rng.permutation(len(loadable))[:IN_PROCESS_RUNS])]
  outputs = []
  for path, what in chosen:
    out = path.with_suffix(".out.task")
    recipe = ["weight_only_int8", "dynamic_int8", "none"][int(rng.integers(3))]
    try:
      pipeline.run(pipeline.Options(input=str(path), output=str(out), recipe=recipe))
    except UserError as e:
      if not _one_line_naming(str(e), path) or out.exists():
        broken.append((path.name, what, f"{recipe}: {e} (output exists: {out.exists()})"))
      continue
    except Exception as e:
      broken.append((path.name, what, f"{recipe}: {type(e).__name__}: {e}"))
      continue
    with zipfile.ZipFile(out) as archive:
      outputs.append((f"{out}/m.tflite", archive.read("m.tflite")))
  for where, message in load_check.failures(outputs).items():
    broken.append((where, "", f"output does not load: {message}"))
  in_process = time.monotonic() - started

  refused_cases = [c for c in cases if c not in loadable][:COMMAND_LINE_RUNS - 1]
  for path, what in refused_cases + loadable[:1]:
    out = path.with_suffix(".cli.task")
    process = run_cli(f"--input={path}", f"--output={out}", "--recipe=weight_only_int8", check=False)
    errors = [l for l in process.stderr.splitlines() if l.startswith("error: ")]
    ok = (process.returncode == 1 and len(errors) == 1 and errors[0].startswith(f"error: {path}")
          and not out.exists()) or (process.returncode == 0 and not errors and out.exists())
    if not ok or "Traceback" in process.stderr:
      broken.append((path.name, what, f"command line: exit {process.returncode}\n{process.stderr[-2000:]}"))
  print(f"{len(cases)} cases (seed {SEED}): {refused} refused by validate, {len(failures)} by the "
        f"runtime, {len(chosen)} of {len(loadable)} loadable run in process ({len(outputs)} written), "
        f"{COMMAND_LINE_RUNS} on the command line; {in_process:.1f} s in process, "
        f"{time.monotonic() - started:.1f} s in all")
  assert not broken, "\n".join(f"{c} [{w}]: {e}" for c, w, e in broken[:20])
