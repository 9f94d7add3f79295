"""dedupkit's compiled parts, both on the fast hashing path; everything else is in ``pyproject.toml``.

* ``dedupkit/_trimwalk.c``: the trim's walk over a grey image (:mod:`dedupkit.trim`);
* ``dedupkit/_lanczos.c``: the LANCZOS weights of a trimmed box (:mod:`dedupkit.fastpath`).

Both are optional: without a C compiler the install still succeeds and dedupkit does the same in numpy (the same
boxes; weights equal within 1e-12), several times slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(f"dedupkit.{name}", [f"dedupkit/{name}.c"], optional=True, extra_compile_args=["-O2"])
                   for name in ("_trimwalk", "_lanczos")])
