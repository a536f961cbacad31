import sys

# Ctrl-C, while modules import or the run goes on: one line and the shell's code for SIGINT
# (128 + 2). Files are only renamed into place at the very end, so nothing is left behind.
try:
  from mediapipe_int8 import cli

  cli.run()
except KeyboardInterrupt:
  print("error: interrupted; nothing written", file=sys.stderr)
  sys.exit(130)
