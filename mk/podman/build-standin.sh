#!/usr/bin/env bash
# Build localhost/lambda-python-standin:3.12, a local stand-in for public.ecr.aws/lambda/python:3.12,
# from Debian packages and this machine's own CPython 3.12, then import it into podman.
#
# No container registry is reachable here, so the AWS base image cannot be pulled. The stand-in
# gives the Dockerfile and the function what they rely on from that image, no more:
#   - `python3` is CPython 3.12 with pip (in /var/lang, as in the AWS image);
#   - ENV LAMBDA_TASK_ROOT=/var/task, WORKDIR /var/task;
#   - the runtime interface client (awslambdaric, pinned and hashed in
#     requirements/lambda-runtime.txt, the pins the tree tests use too) in /var/runtime, out
#     of the task root's sight: it is on PYTHONPATH only in the entry point's process;
#   - ENTRYPOINT /lambda-entrypoint.sh, which runs `python3 -m awslambdaric HANDLER` (the CMD).
# Unlike the AWS image it has no Runtime Interface Emulator: AWS_LAMBDA_RUNTIME_API must name a
# Runtime API (tests/image/podman.py serves one).
#
# Needs root (debootstrap, chroot), debootstrap, podman, the Debian mirror and PyPI. A no-op when
# the image exists and its label `org.notifier.standin.recipe` matches this recipe (this script,
# the pins, the Python build, the suite, the CA bundle); FORCE=1 rebuilds. `make image.standin` runs it with
# the project's podman configuration (mk/podman.mk).
set -euo pipefail

script=$(readlink -f "$0")
cd "$(dirname "$script")/../.."

PODMAN=${PODMAN:-podman}
PYTHON=${PYTHON:-python3.12}
IMAGE=${IMAGE:-localhost/lambda-python-standin:3.12}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# The trust store this machine's pip uses: behind a TLS-intercepting proxy, pip in the stand-in
# (the Dockerfile's `pip install`) trusts what the host trusts.
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WORK=${WORK:-.podman}
PINS=requirements/lambda-runtime.txt
# The shared libraries CPython's own extension modules link against (ssl, ctypes, sqlite3,
# readline, curses, nis) beyond the minimal base; zlib, bz2, lzma, uuid and libcrypt are in it.
PACKAGES=libssl3,libffi8,libsqlite3-0,libreadline8,libncursesw6,libnsl2
LABEL=org.notifier.standin.recipe

say() { printf 'standin: %s\n' "$*" >&2; }

python_info=$("$PYTHON" - <<'EOF'
import os, sys, sysconfig
if sys.version_info[:2] != (3, 12):
    sys.exit(f"{sys.executable} is Python {sys.version.split()[0]}, not 3.12")
print(os.path.realpath(sys._base_executable))
print(sysconfig.get_path("stdlib"))
print(sysconfig.get_config_var("LIBDIR"))
print(sysconfig.get_config_var("INSTSONAME") if sysconfig.get_config_var("Py_ENABLE_SHARED") else "")
print(sys.version.replace("\n", " "))
EOF
)
{ read -r executable; read -r stdlib; read -r libdir; read -r soname; read -r version; } <<<"$python_info"

recipe=$(
    {
        cat "$script" "$PINS"
        printf '%s\n' "$version" "$SUITE" "$PACKAGES"
        sha256sum "$executable" | cut -d' ' -f1
        if [ -f "$CA_BUNDLE" ]; then sha256sum "$CA_BUNDLE" | cut -d' ' -f1; fi
    } | sha256sum | cut -d' ' -f1
)
if [ "${FORCE:-0}" != 1 ] &&
    [ "$("$PODMAN" image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null)" = "$recipe" ]; then
    say "$IMAGE is up to date (recipe $recipe)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "building $IMAGE needs root (debootstrap, chroot)"
    exit 1
fi
if [ ! -d "$stdlib/lib-dynload" ]; then
    say "$PYTHON keeps its extension modules outside $stdlib/lib-dynload: only a CPython built" \
        "with the default layout (pyenv, python.org) can be copied"
    exit 1
fi

mkdir -p "$WORK"
build=$(mktemp -d "$PWD/$WORK/standin-build.XXXXXX")
trap 'rm -rf "$build"' EXIT
rootfs=$build/rootfs
started=$SECONDS

say "debootstrap $SUITE (minbase) from $MIRROR"
mkdir -p "$WORK/cache/debootstrap"
debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$PWD/$WORK/cache/debootstrap" \
    "$SUITE" "$rootfs" "$MIRROR" >"$build/debootstrap.log" 2>&1 ||
    { tail -n 30 "$build/debootstrap.log" >&2; exit 1; }
say "  done in $((SECONDS - started)) s"

say "CPython $version from $executable"
mkdir -p "$rootfs/var/lang/bin" "$rootfs/var/lang/lib"
cp "$executable" "$rootfs/var/lang/bin/python3.12"
ln -s python3.12 "$rootfs/var/lang/bin/python3"
ln -s python3.12 "$rootfs/var/lang/bin/python"
# The standard library only: the host's site-packages (whatever was installed into it) and the
# test suite and GUI modules stay behind.
tar -C "$stdlib" --exclude=./site-packages --exclude=./test --exclude=./idlelib \
    --exclude=./tkinter --exclude=./turtledemo -cf - . |
    tar -C "$rootfs/var/lang/lib" --one-top-level=python3.12 -xf -
mkdir -p "$rootfs/var/lang/lib/python3.12/site-packages"
if [ -n "$soname" ]; then
    cp "$libdir/$soname" "$rootfs/var/lang/lib/"
    ln -s "$soname" "$rootfs/var/lang/lib/libpython3.12.so"
fi
# The build's rpath names the host's prefix; the stand-in finds libpython through ld.so.cache.
echo /var/lang/lib >"$rootfs/etc/ld.so.conf.d/var-lang.conf"
chroot "$rootfs" /sbin/ldconfig

in_rootfs() { chroot "$rootfs" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
in_rootfs python3 -c 'import bz2, ctypes, hashlib, lzma, readline, sqlite3, ssl, uuid, zlib' ||
    { say "the copied Python misses a shared library in the rootfs (see PACKAGES)"; exit 1; }
in_rootfs python3 -m ensurepip --default-pip >"$build/ensurepip.log" 2>&1 ||
    { cat "$build/ensurepip.log" >&2; exit 1; }

if [ -f "$CA_BUNDLE" ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
else
    say "no CA bundle at $CA_BUNDLE: pip in the stand-in trusts its own certifi only"
fi

say "awslambdaric into /var/runtime ($PINS)"
cp "$PINS" "$rootfs/tmp/requirements.txt"
in_rootfs python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
    --root-user-action=ignore \
    --require-hashes --only-binary=:all: --target /var/runtime -r /tmp/requirements.txt
rm "$rootfs/tmp/requirements.txt"
mkdir -p "$rootfs/var/task"

cat >"$rootfs/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# The stand-in's entry point (mk/podman/build-standin.sh): the runtime interface client runs the
# handler the CMD names, the task root first on the path, then the runtime's own packages.
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    echo "lambda-python-standin: AWS_LAMBDA_RUNTIME_API is not set, and unlike the AWS base" \
        "image this stand-in has no Runtime Interface Emulator" >&2
    exit 64
fi
export PYTHONPATH="${LAMBDA_TASK_ROOT}:${LAMBDA_RUNTIME_DIR}"
exec python3 -m awslambdaric "$@"
EOF
chmod 755 "$rootfs/lambda-entrypoint.sh"

# What debootstrap left that an image should not hold: the host's resolver and name (podman
# provides its own), package caches and indexes.
rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

say "podman import $IMAGE"
tar --numeric-owner -C "$rootfs" -cf - . |
    "$PODMAN" import --quiet \
        --change 'ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
        --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
        --change 'WORKDIR /var/task' \
        --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
        --change "LABEL $LABEL=$recipe" \
        --message "stand-in for public.ecr.aws/lambda/python:3.12 (mk/podman/build-standin.sh)" \
        - "$IMAGE" >/dev/null
# Images made on an earlier stand-in are of no further use: whatever of them is untagged goes
# (the images still tagged on the last one go at the next rebuild, once builds have replaced them).
"$PODMAN" image prune --force >/dev/null
say "$IMAGE built in $((SECONDS - started)) s"
