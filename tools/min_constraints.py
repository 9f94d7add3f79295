"""Print pip constraints pinning each dependency of pyproject.toml to its declared floor (``>=X`` becomes ``==X``).

Arguments name packages of the ``dev`` extra to pin as well (the test tools the smoke test needs). Used by
``make test-min``: the lowest versions we claim to support are installed and the smoke test runs on them, so that
a floor cannot lie.
"""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
wanted = {name.lower() for name in sys.argv[1:]}
dev = [r for r in project["optional-dependencies"]["dev"]
       if re.split(r"[\[<>=;\s]", r, maxsplit=1)[0].lower() in wanted]
for requirement in project["dependencies"] + dev:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*", requirement)
    if match is None:
        sys.exit(f"pyproject.toml: cannot read a floor from {requirement!r}; write it as 'name>=version'")
    print(f"{match[1]}=={match[3]}")
