from mediapipe_int8 import cli

cli.run()
