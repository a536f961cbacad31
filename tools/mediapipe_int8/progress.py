"""Progress lines on stderr for the long steps; stdout stays for the report table."""

import sys


def report(message: str) -> None:
  print(message, file=sys.stderr, flush=True)
