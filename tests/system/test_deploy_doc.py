"""docs/deploy.md cannot drift from what is tested: every shell block in it has a name, and a
system test runs each named block as written (system_harness.SystemTestCase.doc_block)."""

import glob
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_harness  # noqa: E402


def blocks_the_tests_run():
    names = set()
    for path in glob.glob(os.path.join(system_harness.HERE, "test_*.py")):
        with open(path) as source:
            names |= set(re.findall(r"doc_block\(\"([\w-]+)\"\)", source.read()))
    with open(os.path.join(system_harness.HERE, "system_harness.py")) as source:
        names |= set(re.findall(r"doc_block\(\"([\w-]+)\"\)", source.read()))
    return names


class DeployDoc(unittest.TestCase):

    def test_every_shell_block_has_a_name(self):
        _, unnamed = system_harness.doc_blocks()
        self.assertEqual(unnamed, [], "give each ```sh block of docs/deploy.md a "
                                      "<!-- system-test: NAME --> line and run it in a test")

    def test_every_named_block_is_run_by_a_system_test(self):
        named, _ = system_harness.doc_blocks()
        self.assertGreaterEqual(len(named), 10)
        self.assertEqual(set(named) - blocks_the_tests_run(), set())

    def test_the_tests_run_only_blocks_that_exist(self):
        named, _ = system_harness.doc_blocks()
        self.assertEqual(blocks_the_tests_run() - set(named), set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
