"""A minimal Debian 12 root to boot with systemd-nspawn, built once with mmdebstrap and cached.

The cache lives outside the checkout (~/.cache/roompush/, or $ROOMPUSH_SYSTEM_CACHE) and is
keyed by everything that goes into it: the suite, the package list and the apt sources. A new
package list builds a new root; a build that fails leaves nothing behind. Two tests that start
at once wait for one build (a lock file), never make two.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import time

SUITE = "bookworm"
SOURCES = "/etc/apt/sources.list.d/debian.sources"

# What a Debian 12 server that runs the site has, and what the tests drive it with. The .deb's
# own dependencies are added by the caller (read from the package), so apt-get install
# ./roompush_*.deb resolves offline, inside a container without a network of its own.
BASE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "libpam-systemd", "procps", "util-linux",
    "nginx-light", "curl", "openssl", "ca-certificates", "redis-server", "adduser",
    "init-system-helpers",
]


def cache_dir():
    base = os.environ.get("ROOMPUSH_SYSTEM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "roompush")
    os.makedirs(base, exist_ok=True)
    return base


def root_key(packages):
    with open(SOURCES, "rb") as sources:
        digest = hashlib.sha256(sources.read())
    digest.update(SUITE.encode())
    digest.update("\n".join(sorted(set(packages))).encode())
    return digest.hexdigest()[:16]


def prune_old_roots(base, keep):
    """Roots of earlier package lists are 230 MB each: keep only the current one."""
    for name in os.listdir(base):
        if name.startswith("debian-root-") and name != keep:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def ensure_root(extra_packages=()):
    """The path of a root holding BASE_PACKAGES and `extra_packages`; built if not cached."""
    packages = sorted(set(BASE_PACKAGES) | set(extra_packages))
    base = cache_dir()
    name = "debian-root-" + root_key(packages)
    root = os.path.join(base, name)
    with open(os.path.join(base, "root.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(root, "etc/os-release")):
            return root
        building = root + ".building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        result = subprocess.run(
            ["mmdebstrap", "--variant=minbase", "--include=" + ",".join(packages), SUITE,
             building, SOURCES],
            capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise RuntimeError("mmdebstrap failed (%s):\n%s" % (
                result.returncode, result.stderr[-4000:]))
        os.rename(building, root)
        prune_old_roots(base, name)
        print("built the Debian root %s in %.0f s" % (root, time.monotonic() - started))
        return root
