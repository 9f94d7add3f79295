"""Importing dedupkit has no side effects and loads nothing heavy; each name loads its module on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dedupkit

HEAVY = ["pandas", "faiss", "scipy", "numba", "cv2", "matplotlib", "pillow_heif", "fastapi"]


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_loads_nothing_heavy_and_registers_no_opener():
    seen = _probe(
        "import json, sys; from PIL import Image; Image.init(); before = set(Image.OPEN);"
        "import dedupkit;"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules],"
        "'new_openers': sorted(set(Image.OPEN) - before)}))"
    )
    assert seen == {"loaded": [], "new_openers": []}


def test_the_heif_opener_is_registered_when_the_first_image_is_opened(sample_dir):
    seen = _probe(
        "import json; from PIL import Image; import dedupkit;"
        f"dedupkit.load_image({str(sample_dir / 'coffee.jpg')!r});"
        "print(json.dumps({'heif': 'HEIF' in Image.OPEN}))"
    )
    assert seen == {"heif": True}


@pytest.mark.parametrize("name", sorted(dedupkit.__all__))
def test_every_public_name_resolves(name):
    assert getattr(dedupkit, name) is not None
    assert name in dir(dedupkit)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'find_everything'"):
        dedupkit.find_everything  # noqa: B018


def test_the_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    assert dedupkit.__version__ == version("dedupkit")


def test_the_command_line_parses_without_the_library():
    seen = _probe(
        "import json, sys; from dedupkit.cli import build_parser;"
        "build_parser().parse_args(['find', '.', '-o', 'x.csv']);"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} + ['numpy', 'PIL'] if m in sys.modules]}}))"
    )
    assert seen == {"loaded": []}


def _imports_between_modules() -> dict[str, set[str]]:
    """For each dedupkit module, the dedupkit modules it imports anywhere (top level or inside a function)."""
    import ast
    from pathlib import Path

    root = Path(dedupkit.__file__).parent
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in names}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                found |= {f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in names}
                if module in names and module != "dedupkit":  # `from . import x` names a module, not the package
                    found.add(module)
        graph[name] = found - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each module that lies on one (breadth-first back to itself)."""
    cycles = set()
    for start in graph:
        previous, frontier = {start: None}, [start]
        while frontier and start not in [n for f in frontier for n in graph[f]]:
            nxt = []
            for node in frontier:
                for target in sorted(graph[node]):
                    if target not in previous:
                        previous[target] = node
                        nxt.append(target)
            frontier = nxt
        if frontier:
            last = next(f for f in frontier if start in graph[f])
            path = [last]
            while path[-1] != start:
                path.append(previous[path[-1]])
            cycles.add(tuple(reversed(path)))
    return sorted(list(c) for c in cycles)


def test_the_modules_import_one_another_without_a_circle():
    graph = _imports_between_modules()
    assert {"dedupkit.scan", "dedupkit.hashing", "dedupkit.service.app"} <= set(graph)
    assert "dedupkit.hashing" in graph["dedupkit.scan"]  # the walk sees imports (and lazy ones too)
    assert "dedupkit.scan" in graph["dedupkit.index"]
    cycles = _cycles(graph)
    assert cycles == [], "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles)


def test_the_circle_check_sees_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["b", "c", "a"],
                                                                       ["c", "a", "b"]]


def test_choosing_the_search_method_does_not_load_the_compiler():
    seen = _probe(
        "import json, sys; from dedupkit.codejoin import choose_method;"
        "method = choose_method(1_000_000, 64, 10);"
        "print(json.dumps({'method': method, 'numba': 'numba' in sys.modules}))"
    )
    assert seen == {"method": "mih", "numba": False}
