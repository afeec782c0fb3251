"""The Debian package: it builds, holds every file the install rules name, depends on the
runtime libraries and nginx, and runs: extracted into a scratch root, the stack started from its
installed programs and nginx site passes the end-to-end test."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness


class Package(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stage = tempfile.mkdtemp(prefix="rp-stage-", dir="/tmp")
        built = subprocess.run(["cpack", "-G", "DEB"], cwd=harness.BUILD_DIR, capture_output=True,
                               text=True, timeout=300)
        if built.returncode != 0:
            raise AssertionError("cpack failed:\n" + built.stdout + built.stderr)
        cls.deb = os.path.join(harness.BUILD_DIR, "roompush_0.1.0_amd64.deb")

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
                     "/usr/lib/sysusers.d/roompush.conf", "/usr/lib/tmpfiles.d/roompush.conf",
                     "/usr/share/man/man1/pushctl.1",
                     "/etc/nginx/sites-available/roompush.conf",
                     "/usr/share/roompush/web/roompush.js"):
            self.assertIn(path, packaged)

    def test_depends_names_the_runtime_libraries_and_nginx(self):
        depends = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True,
                                 text=True).stdout
        for package in ("nginx", "libwebsockets17", "libwebsockets-evlib-ev", "libev4",
                        "libfcgi0ldbl", "libcjson1", "libssl3", "libsystemd0"):
            self.assertIn(package, depends)
        info = subprocess.run(["dpkg-deb", "-I", self.deb], capture_output=True, text=True).stdout
        for script in ("conffiles", "postinst", "prerm", "postrm"):
            self.assertIn(script, info)

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
