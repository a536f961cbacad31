#!/usr/bin/env bash
# Builds with Bzlmod under Bazel 7 (Debian sid's bazel-bootstrap 7.7.1) and prints sha256 of the
# outputs, to compare with Bazel 4's. Not part of tools/test: it needs root, a sid root made with
# debootstrap (about 2 minutes and 600 MB the first time) and Debian's package mirror.
#
# Bazel 7 needs a module registry, which these machines cannot reach; Debian's bazel-rules-* and
# bazel-platforms packages stand in for the Bazel Central Registry (--override_module), and four
# modules that bazel_tools names but these builds never use get empty stand-ins. The project's
# .venv (its interpreter's home bind-mounted) is the Python toolchain, as outside.
#
# Usage: sudo tests/bazel/bzlmod_sid.sh [SID_ROOT]     (default /srv/sid)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SID="${1:-/srv/sid}"
APT=(apt-get -o Acquire::Check-Valid-Until=false -y -qq --no-install-recommends)

if [[ ! -x "${SID}/usr/bin/bazel" ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  [[ -d "${SID}/etc" ]] || debootstrap --variant=minbase sid "${SID}" http://deb.debian.org/debian
  cp /etc/resolv.conf "${SID}/etc/resolv.conf"
  chroot "${SID}" bash -c "apt-get -o Acquire::Check-Valid-Until=false update -qq && \
    DEBIAN_FRONTEND=noninteractive ${APT[*]} install bazel-bootstrap python3 ca-certificates \
      bazel-platforms bazel-rules-cc bazel-rules-java bazel-rules-license bazel-rules-proto \
      bazel-rules-python bazel-skylib bazel-features \
      libxcb1 libgl1 libegl1 libgles2 libglib2.0-0t64 libx11-6 libxext6 libsm6"
fi

# Empty stand-ins for modules that bazel_tools declares but these builds never use.
stub() {
  mkdir -p "${SID}/srv/stubs/$1"
  printf 'module(\n    name = "%s",\n    version = "%s",\n)\n' "$1" "$2" >"${SID}/srv/stubs/$1/MODULE.bazel"
  touch "${SID}/srv/stubs/$1/BUILD.bazel"
}
stub buildozer 7.1.2
stub protobuf 3.19.6
stub zlib 1.3.1.bcr.3
stub apple_support 1.23.1
cat >"${SID}/srv/stubs/buildozer/buildozer_binary.bzl" <<'EOF'
def _empty_impl(rctx):
    rctx.file("BUILD.bazel", "")

_empty = repository_rule(implementation = _empty_impl)

def _impl(_mctx):
    _empty(name = "buildozer_binary")

buildozer_binary = module_extension(implementation = _impl)
EOF
mkdir -p "${SID}/srv/registry/modules"
echo '{}' >"${SID}/srv/registry/bazel_registry.json"

# The repository, the .venv's interpreter, and the seeded repository cache, seen from inside.
python_home="$(sed -n 's/^home = //p' "${REPO}/.venv/pyvenv.cfg")"
python_prefix="$(dirname "${python_home}")"
mounts=(/proc /sys /dev "${REPO}" "${python_prefix}")
cleanup() {
  local base m
  for base in main consumer; do
    chroot "${SID}" bash -c "cd / && bazel --output_base=/tmp/bzlmod_${base} shutdown" 2>/dev/null || true
  done
  for m in "${mounts[@]}"; do umount "${SID}${m}" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in "${mounts[@]}"; do
  mkdir -p "${SID}${m}"
  mountpoint -q "${SID}${m}" || mount --bind "${m}" "${SID}${m}"
done
MEDIAPIPE_INT8_REPOSITORY_CACHE="${SID}/root/.cache/bazel/_bazel_root/cache/repos/v1" \
  bash -c "source '${REPO}/tools/setup.sh'; mi8_seed_repository_cache"

overrides=""
for d in /usr/share/bazel/rules/cc /usr/share/bazel/rules/java /usr/share/bazel/rules/license \
  /usr/share/bazel/rules/proto /usr/share/bazel/rules/python /usr/share/bazel/tools/platforms \
  /usr/share/bazel/tools/skylib /usr/share/bazel/tools/features "${SID}"/srv/stubs/*; do
  d="${d#"${SID}"}"
  name="$(sed -n 's/^ *name = "\([^"]*\)".*/\1/p' "${SID}${d}/MODULE.bazel" | head -1)"
  overrides+=" --override_module=${name}=${d}"
done

# bazel7 WORKSPACE OUTPUT_BASE COMMAND ARGS...
bazel7() {
  local workspace="$1" base="$2" command="$3"
  shift 3
  chroot "${SID}" env HOME=/root bash -c "cd '${workspace}' && bazel --output_base=/tmp/bzlmod_${base} \
    ${command} --enable_bzlmod --lockfile_mode=off --registry=file:///srv/registry ${overrides} $*"
}
build() {
  bazel7 "$@" --symlink_prefix=/ 2>&1 | grep -E '^(INFO: (Elapsed|Build)|ERROR)' || true
}

chroot "${SID}" bazel --version
build "${REPO}" main build //examples:face_landmarker_int8
bin="$(bazel7 "${REPO}" main info bazel-bin 2>/dev/null)"
sha256sum "${SID}${bin}/examples/face_landmarker_int8.task"
consumer="${REPO}/tests/bazel/consumer"
build "${consumer}" consumer build --config=android_arm64 //mediapipe/tasks/int8:face_landmarker_int8
bin="$(bazel7 "${consumer}" consumer info --config=android_arm64 bazel-bin 2>/dev/null)"
sha256sum "${SID}${bin}/mediapipe/tasks/int8/face_landmarker_int8.task"
