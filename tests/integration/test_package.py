"""The Debian package: it builds, holds every file the install rules name, and depends on the
runtime libraries and nginx."""

import os
import shutil
import subprocess
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
        for path in ("/usr/bin/roompush-sidecar", "/usr/bin/roompush-fcgi", "/usr/bin/pushctl",
                     "/usr/lib/roompush/cad-inspect", "/etc/roompush/roompush-sidecar.conf",
                     "/usr/lib/systemd/system/roompush-fcgi.socket",
                     "/usr/lib/sysusers.d/roompush.conf", "/usr/share/man/man1/pushctl.1",
                     "/usr/share/roompush/nginx/roompush-site.conf.in"):
            self.assertIn(path, packaged)

    def test_depends_names_the_runtime_libraries_and_nginx(self):
        depends = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True,
                                 text=True).stdout
        for package in ("nginx", "libwebsockets17", "libfcgi0ldbl", "libcjson1", "libssl3",
                        "libsystemd0"):
            self.assertIn(package, depends)
        info = subprocess.run(["dpkg-deb", "-I", self.deb], capture_output=True, text=True).stdout
        for script in ("conffiles", "postinst", "postrm"):
            self.assertIn(script, info)


if __name__ == "__main__":
    harness.main()
