# dedupkit: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The notebooks ask for a kernel named python3; this one runs the venv's own python,
# whatever other python3 kernels the machine has (a venv's kernels come first).
KERNEL := $(VENV)/share/jupyter/kernels/python3/kernel.json
NOTEBOOKS := 01_hash_dataset 02_tune_threshold 03_export_duplicates 04_calibrate_and_compare
# The browser test of the API docs drives Debian's chromium with playwright (which never downloads a browser).
CHROMIUM := /usr/bin/chromium
# Seconds a notebook cell may run (nbval, papermill and tests/test_notebooks.py): a hang fails with a timeout error
# naming the cell, instead of eating CI's time.
CELL_TIMEOUT := 600
# Azurite, Microsoft's Azure Storage emulator (npm), for tests/test_cloud_emulators.py: pinned, in the venv's folder.
AZURITE_VERSION := 3.35.0
AZURITE := $(VENV)/node/node_modules/.bin/azurite-blob

.PHONY: install demo test test-min lint lab clean bench-data

install: $(STAMP) $(KERNEL) $(CHROMIUM) $(AZURITE)

# setup.py builds the two C extensions (dedupkit/_trimwalk.c, dedupkit/_lanczos.c): rebuilt when they change.
$(STAMP): pyproject.toml setup.py dedupkit/_trimwalk.c dedupkit/_lanczos.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python tools/warm_kernels.py
	@touch $(STAMP)

$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dedupkit)"

# Only when it is missing; as root, with apt-get (elsewhere: say what to install).
$(CHROMIUM):
	@if [ "$$(id -u)" -ne 0 ]; then echo "$(CHROMIUM) is missing: install Debian's chromium (apt-get install chromium) as root" >&2; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# npm from Debian (nodejs, npm) when missing, as root; the package itself from the npm registry, pinned.
$(AZURITE): $(STAMP)
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" -ne 0 ]; then echo "npm is missing: install Debian's nodejs and npm (apt-get install nodejs npm) as root" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	fi
	npm install --prefix $(VENV)/node --no-audit --no-fund --save-exact azurite@$(AZURITE_VERSION)
	@touch $(AZURITE)

demo: $(STAMP) $(KERNEL)
	mkdir -p out
	$(BIN)/dedupkit find data/sample -o out/duplicates.csv --groups out/groups.csv --hashes out/hashes.csv
	$(BIN)/dedupkit report data/sample --groups out/groups.csv --pairs out/duplicates.csv --hashes out/hashes.csv -o out/report.html
	@for nb in $(NOTEBOOKS); do \
		$(BIN)/papermill notebooks/$$nb.ipynb out/$$nb.ipynb -k python3 --no-progress-bar --execution-timeout $(CELL_TIMEOUT) \
			-p image_dir data/sample -p output_dir out || exit 1; \
	done
	@echo
	@echo "Executed notebooks:  out/01_hash_dataset.ipynb out/02_tune_threshold.ipynb out/03_export_duplicates.ipynb out/04_calibrate_and_compare.ipynb"
	@echo "Duplicates (CSV):    out/duplicates.csv out/groups.csv  (nothing was deleted or moved)"
	@echo "Report (HTML):       out/report.html  (self-contained: open it in a browser, or mail it)"
	@$(BIN)/python -c "from dedupkit.duplicates import CANDIDATE_DISTANCE as d; print(f'Notebook 3 used:     verified pairs: hash candidates within {d} bits, each confirmed by local features and pixels (the default, chosen on the benchmark tuning half)')"
	@echo "Hash-only threshold: out/threshold.json (notebook 2; used only with verify=False / --no-verify; calibration: out/calibration.json)"
	@echo "Figures (PNG):       out/figures/ (distance_distribution.png, threshold_edge.png, largest_groups.png, ...)"
	@echo "Open them with:      make lab"

test: $(STAMP) $(KERNEL) $(CHROMIUM) $(AZURITE)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) notebooks/

# The lint check tests/test_lint.py also runs (rules: [tool.ruff] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/python -m ruff check dedupkit tests benchmarks tools

# The lowest versions pyproject.toml declares, in a venv of their own, and the smoke test on them: a floor that
# does not work fails here (CI runs it after `make test`).
test-min:
	rm -rf .venv-min
	$(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) tools/min_constraints.py pytest pytest-timeout httpx > .venv-min/constraints.txt
	.venv-min/bin/python -m pip install --quiet -c .venv-min/constraints.txt -e . pytest pytest-timeout httpx
	.venv-min/bin/python -m pip list --format=freeze | grep -iE "^($$(cut -d= -f1 .venv-min/constraints.txt | paste -sd'|'))=="
	.venv-min/bin/python -m pytest -q -p no:cacheprovider tests/test_smoke.py

# The verification benchmark (real photos from Debian packages, edits, truth.csv) in bench-data/.
bench-data: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

# Also registers nbstripout in this clone's git config, so notebooks are committed without outputs. JupyterLab opens
# at the repository root (notebooks/ and the executed copies in out/ both reachable); as root it needs --allow-root.
lab: $(STAMP) $(KERNEL)
	$(BIN)/python -m pip install --quiet -e ".[dev,lab]"
	@git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install || true
	$(BIN)/jupyter lab $$( [ "$$(id -u)" -eq 0 ] && echo --allow-root ) --ServerApp.root_dir=.

clean:
	rm -rf $(VENV) .venv-min out .pytest_cache
