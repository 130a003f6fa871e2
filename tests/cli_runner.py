"""Run the real CLI in a fresh Python process (as a user would), failing with its stderr."""

import subprocess
import sys


def cli(*args, timeout=1800):
    proc = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
