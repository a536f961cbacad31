"""mediapipe_int8: MediaPipe .task bundles in, INT8 bundles that MediaPipe loads unchanged out."""
