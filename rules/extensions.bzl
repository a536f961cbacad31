"""Bzlmod module extensions of mediapipe_int8 (see MODULE.bazel)."""

load("//rules/private:extensions.bzl", _mediapipe_int8 = "mediapipe_int8")

mediapipe_int8 = _mediapipe_int8
