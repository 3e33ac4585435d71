"""pytest setup for tests/deploy: the helpers live in gh_deploy.py (a name of its own, so
that tests/deploy and tests/e2e can run in one pytest invocation)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
