"""mediapipe_int8: MediaPipe .task bundles in, INT8 bundles that MediaPipe loads unchanged out."""

import os
import sys

if "tensorflow" not in sys.modules:
  # Learned int8 (tf_graph.py) needs TensorFlow's Eigen kernels: oneDNN's are compiled at run time
  # for the CPU at hand (FMA, AVX-512), so two machines would round differently. TensorFlow reads
  # this once, when it loads, and MediaPipe's Tasks API loads it too (for its docs decorators), so
  # it is set here, before any module of this package can import either.
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
