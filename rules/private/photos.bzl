"""The photo files the quantizer and the gate read (tools/mediapipe_int8/photos.py, EXTENSIONS)."""

PHOTO_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp"]
