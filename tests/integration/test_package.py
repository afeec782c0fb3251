"""The Debian package: it builds, holds every file the install rules name, depends on the
runtime libraries and nginx, passes lintian (every warning left is justified in docs/deploy.md),
and runs: extracted into a scratch root, the stack started from its installed programs and nginx
site passes the end-to-end test."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness

DEPLOY_MD = os.path.join(harness.REPO, "docs", "deploy.md")
LINTIAN_SECTION = "## What lintian says"


def packaged_version(build_dir):
    """The version cpack gives the package: CPACK_PACKAGE_VERSION in the build's CPackConfig."""
    with open(os.path.join(build_dir, "CPackConfig.cmake"), encoding="utf-8") as config:
        found = re.search(r'^set\(CPACK_PACKAGE_VERSION "([^"]+)"\)', config.read(), re.MULTILINE)
    if not found:
        raise AssertionError("no CPACK_PACKAGE_VERSION in " + build_dir + "/CPackConfig.cmake")
    return found.group(1)


def justified_lintian_tags():
    """{tag: justification} from the list items of deploy.md's lintian section ("- `tag`: why")."""
    with open(DEPLOY_MD, encoding="utf-8") as page:
        text = page.read()
    start = text.find("\n" + LINTIAN_SECTION + "\n")
    if start < 0:
        raise AssertionError("docs/deploy.md has no section " + LINTIAN_SECTION)
    section = text[start + len(LINTIAN_SECTION) + 2:]
    following = re.search(r"^## ", section, re.MULTILINE)
    if following:
        section = section[:following.start()]
    return {match.group(1): match.group(2).strip()
            for match in re.finditer(r"^- `([a-z0-9][a-z0-9+.-]*)`:?(.*)$", section, re.MULTILINE)}


class Package(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stage = tempfile.mkdtemp(prefix="rp-stage-", dir="/tmp")
        built = subprocess.run(["cpack", "-G", "DEB"], cwd=harness.BUILD_DIR, capture_output=True,
                               text=True, timeout=300)
        if built.returncode != 0:
            raise AssertionError("cpack failed:\n" + built.stdout + built.stderr)
        # Earlier versions' packages may still lie in the build directory: take this version's.
        version = packaged_version(harness.BUILD_DIR)
        pattern = "roompush_%s_*.deb" % glob.escape(version)
        debs = glob.glob(os.path.join(harness.BUILD_DIR, pattern))
        if len(debs) != 1:
            raise AssertionError("expected one roompush_%s_*.deb, found %r" % (version, debs))
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.stage, ignore_errors=True)

    def test_the_package_holds_what_cmake_install_installs(self):
        installed = subprocess.run(["cmake", "--install", harness.BUILD_DIR],
                                   env=dict(os.environ, DESTDIR=self.stage),
                                   capture_output=True, text=True)
        self.assertEqual(installed.returncode, 0, installed.stderr)
        staged = set()
        for directory, _, files in os.walk(self.stage):
            for name in files:
                staged.add("/" + os.path.relpath(os.path.join(directory, name), self.stage))
        listing = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True)
        packaged = {line.split()[-1].lstrip(".") for line in listing.stdout.splitlines()
                    if not line.split()[-1].endswith("/")}
        self.assertEqual(staged - packaged, set())
        served = [path for path in packaged if path.startswith("/usr/share/roompush/web/")]
        self.assertEqual([path for path in served if not path.endswith(
            (".html", ".js", ".css", ".json", ".stl", ".dxf", ".svg"))], [])
        for path in ("/usr/bin/roompush-sidecar", "/usr/bin/roompush-fcgi", "/usr/bin/pushctl",
                     "/usr/lib/roompush/cad-inspect", "/etc/roompush/roompush-sidecar.conf",
                     "/usr/lib/systemd/system/roompush-fcgi.socket",
                     "/usr/lib/systemd/system/roompush-sidecar@.service",
                     "/usr/lib/sysusers.d/roompush.conf", "/usr/lib/tmpfiles.d/roompush.conf",
                     "/usr/share/man/man1/pushctl.1.gz",
                     "/usr/share/doc/roompush/copyright", "/usr/share/doc/roompush/changelog.gz",
                     "/etc/nginx/sites-available/roompush.conf",
                     "/usr/share/roompush/web/roompush.js"):
            self.assertIn(path, packaged)

    def test_depends_names_the_runtime_libraries_and_nginx(self):
        depends = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True,
                                 text=True).stdout
        for package in ("nginx", "libwebsockets17", "libwebsockets-evlib-ev", "libev4",
                        "libfcgi0ldbl", "libcjson1", "libssl3", "libsystemd0", "procps", "adduser",
                        "init-system-helpers"):
            self.assertIn(package, depends)
        sidecar = os.path.join(harness.BUILD_DIR, "ws-sidecar/roompush-sidecar")
        if harness.devstack.links_jemalloc(sidecar):
            self.assertIn("libjemalloc2", depends)
        info = subprocess.run(["dpkg-deb", "-I", self.deb], capture_output=True, text=True).stdout
        for script in ("conffiles", "postinst", "prerm", "postrm"):
            self.assertIn(script, info)

    def test_lintian_finds_no_error_and_only_justified_warnings(self):
        if not shutil.which("lintian"):
            self.fail("lintian is not installed (apt-get install lintian; ./dev installs it)")
        run = subprocess.run(["lintian", "--tag-display-limit", "0", self.deb],
                             capture_output=True, text=True, timeout=300)
        # Exit status 1 only says that tags were emitted; what counts is which.
        self.assertIn(run.returncode, (0, 1), run.stdout + run.stderr)
        tags = re.findall(r"^([EW]): \S+: (\S+)", run.stdout, re.MULTILINE)
        self.assertEqual([line for line in run.stdout.splitlines() if line.startswith("E:")], [],
                         run.stdout)
        justified = justified_lintian_tags()
        warned = {tag for kind, tag in tags if kind == "W"}
        self.assertEqual(sorted(warned - set(justified)), [],
                         "warnings not justified in docs/deploy.md (%s):\n%s"
                         % (LINTIAN_SECTION, run.stdout))
        self.assertEqual([tag for tag, why in justified.items() if not why], [],
                         "a tag in docs/deploy.md without its justification")
        # A justification for a warning lintian no longer gives is out of date.
        self.assertEqual(sorted(set(justified) - warned), [],
                         "docs/deploy.md justifies warnings lintian no longer gives:\n"
                         + run.stdout)

    def test_extracted_package_passes_the_end_to_end_test(self):
        root = tempfile.mkdtemp(prefix="rp-root-", dir="/tmp")
        self.addCleanup(shutil.rmtree, root, True)
        extracted = subprocess.run(["dpkg-deb", "-x", self.deb, root], capture_output=True,
                                   text=True)
        self.assertEqual(extracted.returncode, 0, extracted.stderr)
        # The same test file as against the build tree; ROOMPUSH_INSTALLED_ROOT makes its stack
        # take every program, the nginx site and the web root from the extracted package.
        run = subprocess.run([sys.executable, os.path.join(harness.HERE, "test_end_to_end.py"),
                              "--build-dir", harness.BUILD_DIR],
                             env=dict(os.environ, ROOMPUSH_INSTALLED_ROOT=root),
                             capture_output=True, text=True, timeout=240)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        ran = re.search(r"^Ran (\d+) tests?", run.stderr, re.MULTILINE)
        self.assertTrue(ran and int(ran.group(1)) >= 4, run.stderr)


if __name__ == "__main__":
    harness.main()
