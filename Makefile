# orbitedge: `make run` simulates the quickstart scenario; `make test` runs the test suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRAIN_STAMP := $(VENV)/.installed-train

.PHONY: run test bench realism models clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/orbitedge run scenarios/quickstart.yaml --out runs/quickstart --overwrite

# The tests include a training smoke test and a realism check, so they also install the [train] extra
# (TensorFlow) and the [realism] extra (ukis-csmask, a cloud model trained on real imagery).
$(TRAIN_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,train,realism]'
	touch $(TRAIN_STAMP)

test: $(TRAIN_STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

# Rebuild the shipped models from the project's own world generator (needs TensorFlow: the [train] extra),
# then record each model's host latency in its card.
models: $(TRAIN_STAMP)
	$(BIN)/python -m training.train_cloud
	$(BIN)/python -m training.train_superres
	$(BIN)/python benchmarks/models.py

# How far the synthetic world and the cloud models are from real Earth: benchmarks/results/realism.json
realism: $(TRAIN_STAMP)
	$(BIN)/python -m benchmarks.realism

bench: $(STAMP)
	$(BIN)/python benchmarks/orbit.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/models.py

clean:
	rm -rf runs .pytest_cache
