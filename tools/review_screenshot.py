"""Write docs/review.png: the review widget in a real JupyterLab, as tests/test_review_lab.py drives it.

Run from the repository root: ``python tools/review_screenshot.py`` (needs the dev extra and /usr/bin/chromium).
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
env = {**os.environ, "REVIEW_SCREENSHOT": str(REPO / "docs" / "review.png"),
       "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(REPO / "tests" / "test_review_lab.py")], env=env, cwd=REPO))
