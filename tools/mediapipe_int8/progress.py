"""What a run says on stderr: progress lines for the long steps, or nothing (quiet).

stdout stays for the report table.
"""

import contextlib
import os
import sys
import tempfile


def report(message: str) -> None:
  print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet():
  """Holds back everything written to stderr, by us or by native code (progress lines, the
  engine's progress bars, TensorFlow's and MediaPipe's log lines), so that success prints nothing.

  Yields the real stderr, for the one `error:` line of a failure. When an unexpected exception
  leaves the block, what was held back is printed first: it is what a bug report needs.
  """
  sys.stderr.flush()
  saved = os.dup(2)
  real = os.fdopen(os.dup(saved), "w")
  with tempfile.TemporaryFile() as held:
    os.dup2(held.fileno(), 2)
    try:
      yield real
    except Exception:
      sys.stderr.flush()
      held.seek(0)
      real.flush()
      os.write(saved, held.read())
      raise
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      real.close()


@contextlib.contextmanager
def loud():
  """The counterpart of quiet(): stderr as it is."""
  yield sys.stderr
