"""Loads models in the LiteRT interpreter in a child process, so native crashes become errors.

Each model is loaded, its tensors allocated and run once: on a sample the caller
gives (a held-back calibration sample), or on zeros. What the schema can't say
(unknown kernels, unresolved custom ops, wrong options) fails there. A quantized
model needs a real sample: on zeros, an int8 DIV by a normalising standard
deviation divides by its zero point, which TFLite's kernel refuses. The runtime may abort or crash on a malformed model; in a child process
that becomes an error line naming the model. One child serves every model of a
run; after a crash a new one goes on with the next model.

Run as `python -m mediapipe_int8.load_check FILE...`: it prints `start <i>`
before each model and `ok <i>` or `fail <i> <message>` after it. A file
`FILE.npz` beside a model holds the inputs to run it on (arr_0, arr_1, ...).
"""

import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

from mediapipe_int8.errors import UserError

# A model that takes longer than this to load and run once on zeros is taken as hanging.
TIMEOUT_SECONDS = 300


def check_loads(models: list[tuple[str, bytes]], feeds: list | None = None) -> None:
  """UserError naming the first model (source, bytes) that the runtime refuses or crashes on.

  feeds: per model, the input arrays to run it on, or None for zeros."""
  for source, problem in failures(models, feeds).items():
    raise UserError(f"{source}: the TFLite runtime cannot load it ({problem})")


def failures(models: list[tuple[str, bytes]], feeds: list | None = None) -> dict[str, str]:
  """source -> what went wrong, for every model the runtime refuses, in the given order."""
  if not models:
    return {}
  feeds = feeds or [None] * len(models)
  out = {}
  with tempfile.TemporaryDirectory(prefix="mediapipe_int8_load_") as directory:
    paths = []
    for i, ((_, data), feed) in enumerate(zip(models, feeds, strict=True)):
      paths.append(os.path.join(directory, f"{i}.tflite"))
      with open(paths[-1], "wb") as f:
        f.write(data)
      if feed is not None:
        np.savez(paths[-1] + ".npz", *feed)
    start = 0
    while start < len(models):
      results, crashed_at, why = _run_child(paths[start:])
      for i, message in results.items():
        if message is not None:
          out[models[start + i][0]] = message
      if crashed_at is None:
        break
      out[models[start + crashed_at][0]] = why
      start += crashed_at + 1
  return out


def _run_child(paths: list[str]) -> tuple[dict[int, str | None], int | None, str]:
  """Results per model index, and where the child died (None if it finished) and how."""
  # The child sees what this process imports from: this package, and every folder of sys.path
  # (under Bazel the packages are a site folder that the launcher added, not the interpreter's).
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([here] + [p for p in sys.path if p]),
             TF_CPP_MIN_LOG_LEVEL="3")
  try:
    process = subprocess.run(child_command(paths),
                             capture_output=True, text=True, env=env, timeout=TIMEOUT_SECONDS,
                             stdin=subprocess.DEVNULL)
    stdout, returncode = process.stdout, process.returncode
  except subprocess.TimeoutExpired as e:
    stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    returncode = None
  results: dict[int, str | None] = {}
  current = None
  for line in stdout.splitlines():
    word, _, rest = line.partition(" ")
    index, _, message = rest.partition(" ")
    if word == "start":
      current = int(index)
    elif word == "ok":
      results[int(index)] = None
      current = None
    elif word == "fail":
      results[int(index)] = message
      current = None
  if returncode == 0 and current is None:
    return results, None, ""
  where = current if current is not None else len(results)
  if returncode is None:
    return results, where, f"it does not finish loading within {TIMEOUT_SECONDS} s"
  if returncode < 0:
    return results, where, f"the runtime crashed: {signal.Signals(-returncode).name}"
  return results, where, f"the runtime exited with status {returncode}"


def child_command(paths: list[str]) -> list[str]:
  return [sys.executable, "-m", "mediapipe_int8.load_check", *paths]


def _load_one(path: str) -> None:
  from ai_edge_litert import interpreter as litert

  from mediapipe_int8 import runner

  interpreter = litert.Interpreter(model_path=path, num_threads=1)
  interpreter.allocate_tensors()
  details = interpreter.get_input_details()
  if os.path.exists(path + ".npz"):
    with np.load(path + ".npz") as feed:
      values = [feed[f"arr_{i}"] for i in range(len(details))]
  else:
    values = [np.zeros(d["shape"], d["dtype"]) for d in details]
  for detail, value in zip(details, values):
    # A float sample for an int8 input (--io=int8) is quantized with the input's own parameters.
    value = runner.to_input(detail, np.reshape(value, detail["shape"]))
    interpreter.set_tensor(detail["index"], value)
  interpreter.invoke()


def _main(paths: list[str]) -> None:
  for i, path in enumerate(paths):
    print(f"start {i}", flush=True)
    try:
      _load_one(path)
    except Exception as e:  # the runtime raises RuntimeError, ValueError, ... with its own text
      message = " ".join(str(e).split()) or type(e).__name__
      print(f"fail {i} {message[:300]}", flush=True)
    else:
      print(f"ok {i}", flush=True)


if __name__ == "__main__":
  _main(sys.argv[1:])
