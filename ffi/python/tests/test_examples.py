"""The README's Python snippet comes from examples/quickstart.py: run it, check its output."""

import subprocess
import sys
import unittest

from common import HERE

EXAMPLES = HERE.parent / "examples"


class ExamplesTest(unittest.TestCase):
    def test_quickstart_prints_what_its_expected_file_says(self):
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / "quickstart.py")], check=True, capture_output=True, text=True
        ).stdout
        self.assertEqual(out, (EXAMPLES / "quickstart.expected").read_text(encoding="utf-8"))


if __name__ == "__main__":
    unittest.main()
