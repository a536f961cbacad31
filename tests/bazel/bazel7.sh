#!/usr/bin/env bash
# Bazel 7.7.1 for the end-to-end tests: Debian sid's bazel-bootstrap in a root made from sid
# packages (it needs a newer libc than Debian 12 has), kept in a cache folder and reused.
#
#   tests/bazel/bazel7.sh                  builds the root if needed, then runs tests/test_bazel7.py
#   tests/bazel/bazel7.sh root             builds the root if needed and prints its path
#   tests/bazel/bazel7.sh bazel DIR ARGS   runs Bazel 7.7.1 in the root, in workspace DIR
#   tests/bazel/bazel7.sh run COMMAND ARGS runs COMMAND in the root (the buildbox worker)
#
# Needs root (debootstrap, chroot, mounts) and Debian's package mirror the first time: about
# 700 MB and a few minutes (docs/bazel7.md has the measured times). Then the root is reused: a
# stamp records the package set, and a changed set builds a new root.
#
# Environment:
#   MEDIAPIPE_INT8_BAZEL7_ROOT    where the root lives (default ~/.cache/mediapipe_int8/bazel-7.7.1-sid)
#   MEDIAPIPE_INT8_DEBIAN_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#
# Bazel 7 needs a module registry, which these machines cannot reach: Debian's bazel-rules-*,
# bazel-skylib, bazel-features and bazel-platforms packages stand in for the Bazel Central Registry
# (--override_module, written to the root's /etc/bazel.bazelrc), and four modules that bazel_tools
# names but these builds never use get empty stand-ins. A user with internet needs none of that.
#
# Each Bazel call runs in its own mount namespace (unshare): /proc, /sys, /dev, /tmp, this
# repository and the .venv's Python installation are bind-mounted into the root at the same paths.
# The mounts live as long as the Bazel server that uses them and never show on the host, so the
# cache folder can always be deleted safely.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SID="${MEDIAPIPE_INT8_BAZEL7_ROOT:-${HOME}/.cache/mediapipe_int8/bazel-7.7.1-sid}"
MIRROR="${MEDIAPIPE_INT8_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BAZEL_VERSION="7.7.1"
PACKAGES=(
  bazel-bootstrap bazel-platforms bazel-rules-cc bazel-rules-java bazel-rules-license
  bazel-rules-proto bazel-rules-python bazel-rules-shell bazel-skylib bazel-features
  python3 ca-certificates
  # What mediapipe and OpenCV in the .venv load when the quantizer runs inside the root.
  libxcb1 libgl1 libegl1 libgles2 libglib2.0-0t64 libx11-6 libxext6 libsm6
  # The remote-execution worker of tests/test_remote_execution.py: buildbox-casd, buildbox-worker,
  # buildbox-run-hosttools (buildbox 1.4.30 is only in sid).
  buildbox
)
# Debian's Bazel modules, in the root (Debian's /etc/bazel/bazelrc overrides most of them too).
# Each must be in the module graph: Bazel refuses an override of a module that no one uses.
MODULE_DIRS=(
  /usr/share/bazel/rules/cc /usr/share/bazel/rules/java /usr/share/bazel/rules/license
  /usr/share/bazel/rules/proto /usr/share/bazel/rules/python
  /usr/share/bazel/tools/platforms /usr/share/bazel/tools/skylib /usr/share/bazel/tools/features
)
# Modules that bazel_tools or Debian's modules name, unused here: empty stand-ins (name version).
STUBS=("buildozer 7.1.2" "protobuf 3.19.6" "zlib 1.3.1.bcr.3" "apple_support 1.23.1")
STAMP="${SID}/.mediapipe_int8_root"

log() {
  echo "bazel7.sh: $*" >&2
}

die() {
  echo "bazel7.sh: error: $*" >&2
  exit 1
}

# What the root is made of: a new value builds a new root.
want_stamp() {
  printf 'bazel %s\nmirror %s\npackages %s\nstubs %s\nversion 1\n' "${BAZEL_VERSION}" "${MIRROR}" \
    "${PACKAGES[*]}" "${STUBS[*]}"
}

root_ready() {
  [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "$(want_stamp)" && -x "${SID}/usr/bin/bazel" ]]
}

# Refuses to delete a folder that something is mounted under (bind mounts of /dev or the repo).
remove_root() {
  if awk -v root="${SID}" '$2 == root || index($2, root "/") == 1 { found = 1 } END { exit !found }' \
    /proc/self/mounts; then
    die "${SID} has mounts under it (see /proc/self/mounts); unmount them first"
  fi
  rm -rf "${SID}"
}

write_stubs() {
  local entry name version
  for entry in "${STUBS[@]}"; do
    read -r name version <<<"${entry}"
    mkdir -p "${SID}/srv/stubs/${name}"
    printf 'module(\n    name = "%s",\n    version = "%s",\n)\n' "${name}" "${version}" \
      >"${SID}/srv/stubs/${name}/MODULE.bazel"
    : >"${SID}/srv/stubs/${name}/BUILD.bazel"
  done
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
}

# The root's system bazelrc: the local registry and the module overrides, for every workspace.
write_bazelrc() {
  local dir name rc="${SID}/etc/bazel.bazelrc"
  {
    echo "# Written by mediapipe_int8's tests/bazel/bazel7.sh: Debian's modules stand in for the BCR."
    echo "common --registry=file:///srv/registry"
    echo "common --lockfile_mode=off"
    for dir in "${MODULE_DIRS[@]}" "${SID}"/srv/stubs/*; do
      dir="${dir#"${SID}"}"
      name="$(sed -n 's/^ *name = "\([^"]*\)".*/\1/p' "${SID}${dir}/MODULE.bazel" | head -1)"
      [[ -n "${name}" ]] || die "no module name in ${SID}${dir}/MODULE.bazel"
      echo "common --override_module=${name}=${dir}"
    done
    # WORKSPACE mode (--noenable_bzlmod): Bazel 7's WORKSPACE suffix fetches these from GitHub.
    for dir in "${MODULE_DIRS[@]}"; do
      name="$(sed -n 's/^ *name = "\([^"]*\)".*/\1/p' "${SID}${dir}/MODULE.bazel" | head -1)"
      echo "common --override_repository=${name}=${dir}"
    done
  } >"${rc}"
}

build_root() {
  [[ "$(id -u)" == 0 ]] || die "building the Bazel ${BAZEL_VERSION} root needs root (debootstrap, chroot)"
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 ||
      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; } ||
      die "cannot install debootstrap with apt-get"
  fi
  log "building a Debian sid root with Bazel ${BAZEL_VERSION} in ${SID} (from ${MIRROR})"
  remove_root
  mkdir -p "$(dirname "${SID}")"
  debootstrap --variant=minbase sid "${SID}" "${MIRROR}" >&2 ||
    die "debootstrap of Debian sid from ${MIRROR} failed (no network to Debian's mirror?)"
  cp /etc/resolv.conf "${SID}/etc/resolv.conf"
  # These machines' clocks can run past the mirror's Valid-Until.
  echo 'Acquire::Check-Valid-Until "false";' >"${SID}/etc/apt/apt.conf.d/99mediapipe_int8"
  # Java's postinst wants /proc: mounted in a private mount namespace, gone when apt is done.
  unshare --mount --propagation private bash -c 'set -e; mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"; shift
    exec chroot "$@"' bash "${SID}" "${SID}" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive bash -c \
    "apt-get -qq update && apt-get -y -qq --no-install-recommends install ${PACKAGES[*]} && apt-get clean" >&2 ||
    die "installing ${PACKAGES[*]} in the sid root failed"
  local version
  version="$(chroot "${SID}" dpkg-query -W -f='${Version}' bazel-bootstrap)"
  [[ "${version}" == "${BAZEL_VERSION}"* ]] ||
    die "Debian sid has bazel-bootstrap ${version}, this suite is for ${BAZEL_VERSION}"
  want_stamp >"${STAMP}"
}

ensure_root() {
  if ! root_ready; then
    build_root
  fi
  write_stubs
  write_bazelrc
  # Google's model, where Bazel 7 in the root looks before downloading (as tools/bazel does outside).
  MEDIAPIPE_INT8_REPOSITORY_CACHE="${SID}/root/.cache/bazel/_bazel_root/cache/repos/v1" \
    bash -c "source '${REPO}/tools/setup.sh' && mi8_ensure_venv && mi8_seed_repository_cache"
}

# run_in_root DIR COMMAND ARGS: COMMAND in the root, in a private mount namespace, with DIR as cwd.
run_in_root() {
  local workspace="$1"
  shift
  [[ "$(id -u)" == 0 ]] || die "running in the root needs root (unshare, chroot)"
  root_ready || die "no Bazel ${BAZEL_VERSION} root in ${SID}: run tests/bazel/bazel7.sh root"
  local python_home python_prefix
  python_home="$(sed -n 's/^home = //p' "${REPO}/.venv/pyvenv.cfg")"
  python_prefix="$(dirname "${python_home}")"
  local mounts=(/proc /sys /dev /tmp "${REPO}" "${python_prefix}")
  local script='set -e; root="$1"; shift; n="$1"; shift
    for ((i = 0; i < n; i++)); do
      mkdir -p "${root}$1"; mount --rbind "$1" "${root}$1"; shift
    done
    workspace="$1"; shift
    exec chroot "${root}" env -i HOME=/root USER=root LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash -c '\''cd "$1" && shift && exec "$@"'\'' bash "${workspace}" "$@"'
  exec unshare --mount --propagation private bash -c "${script}" bash "${SID}" "${#mounts[@]}" \
    "${mounts[@]}" "${workspace}" "$@"
}

case "${1:-}" in
  root)
    ensure_root
    echo "${SID}"
    ;;
  bazel)
    shift
    [[ $# -ge 1 ]] || die "usage: tests/bazel/bazel7.sh bazel DIR ARGS..."
    workspace="$1"
    shift
    run_in_root "${workspace}" /usr/bin/bazel "$@"
    ;;
  run)
    shift
    [[ $# -ge 1 ]] || die "usage: tests/bazel/bazel7.sh run COMMAND ARGS..."
    run_in_root / "$@"
    ;;
  "")
    ensure_root
    cd "${REPO}"
    exec "${REPO}/.venv/bin/python3" -m pytest -q tests/test_bazel7.py
    ;;
  *)
    die "unknown command $1 (root, bazel, run, or none)"
    ;;
esac
