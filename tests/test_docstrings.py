"""Every docstring example in dedupkit that runs (those that need files are marked ``# doctest: +SKIP``) passes."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dedupkit

MODULES = sorted(info.name for info in pkgutil.walk_packages(dedupkit.__path__, prefix="dedupkit.")
                 if info.name != "dedupkit.__main__")


def _examples(name: str) -> list[doctest.DocTest]:
    return [test for test in doctest.DocTestFinder().find(importlib.import_module(name)) if test.examples]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_pass(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    where = name.replace(".", "/")
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} fail (pytest --doctest-modules {where})"


def test_the_docstring_examples_are_found():
    # a finder that sees nothing would pass every module above
    ran = sum(1 for name in MODULES for test in _examples(name) for example in test.examples
              if not example.options.get(doctest.SKIP))
    assert ran >= 30
