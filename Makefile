# dedupkit: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The notebooks ask for a kernel named python3; this one runs the venv's own python,
# whatever other python3 kernels the machine has (a venv's kernels come first).
KERNEL := $(VENV)/share/jupyter/kernels/python3/kernel.json
NOTEBOOKS := 01_hash_dataset 02_tune_threshold 03_export_duplicates 04_calibrate_and_compare

.PHONY: install demo test lab clean bench-data

install: $(STAMP) $(KERNEL)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dedupkit)"

demo: $(STAMP) $(KERNEL)
	mkdir -p out
	$(BIN)/dedupkit find data/sample -o out/duplicates.csv --groups out/groups.csv --hashes out/hashes.csv
	@for nb in $(NOTEBOOKS); do \
		$(BIN)/papermill notebooks/$$nb.ipynb out/$$nb.ipynb -k python3 --no-progress-bar \
			-p image_dir data/sample -p output_dir out || exit 1; \
	done
	@echo
	@echo "Executed notebooks:  out/01_hash_dataset.ipynb out/02_tune_threshold.ipynb out/03_export_duplicates.ipynb out/04_calibrate_and_compare.ipynb"
	@echo "Duplicates (CSV):    out/duplicates.csv out/groups.csv  (nothing was deleted or moved)"
	@echo "Threshold chosen:    out/threshold.json  (calibration on edited copies: out/calibration.json)"
	@echo "Figures (PNG):       out/figures/ (distance_distribution.png, threshold_edge.png, largest_groups.png, ...)"
	@echo "Open them with:      make lab"

test: $(STAMP) $(KERNEL)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env notebooks/

# The verification benchmark (real photos from Debian packages, edits, truth.csv) in bench-data/.
bench-data: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

# Also registers nbstripout in this clone's git config, so notebooks are committed without outputs.
lab: $(STAMP) $(KERNEL)
	$(BIN)/python -m pip install --quiet -e ".[dev,lab]"
	@git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install || true
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) out .pytest_cache
