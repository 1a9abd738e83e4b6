# `make demo` and `make test` work on a fresh clone: each creates .venv when absent and installs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test test-main test-beam test-torch lint bench bench-scaling bench-peers bench-readme install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installed marker: re-install when the package metadata changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/dataprep convert sample_data/penguins.csv --schema schemas/penguins.yaml --out out/penguins \
	    --split train=0.8,valid=0.1,test=0.1 --on-error skip --seed 42 --overwrite
	$(BIN)/dataprep convert sample_data/digits.npz --schema schemas/digits.yaml --out out/digits \
	    --split train=0.8,valid=0.1,test=0.1 --num-shards 2 --compression gzip --seed 42 --overwrite
	$(BIN)/dataprep validate out/digits
	$(BIN)/dataprep train wide-deep out/penguins --variant two-input --out runs/penguins --quiet
	$(BIN)/dataprep train cnn out/digits --epochs 15 --out runs/digits --quiet

test: lint test-main test-beam

# ruff on the package and the tests, mypy on the package (their settings: pyproject.toml)
lint: install
	$(BIN)/ruff check dataprep tests && $(BIN)/mypy dataprep

test-main: install
	$(BIN)/python -m pytest -q --ignore=tests/test_beam.py

# Apache Beam pins pyarrow and protobuf below TensorFlow's environment: its runner is tested in its own venv.
BEAM := .venv-beam
$(BEAM)/.installed: setup.cfg pyproject.toml
	test -x $(BEAM)/bin/python || $(PYTHON) -m venv $(BEAM)
	$(BEAM)/bin/pip install --quiet --upgrade pip
	$(BEAM)/bin/pip install --quiet -e '.[test-beam]'
	touch $@

test-beam: $(BEAM)/.installed
	$(BEAM)/bin/python -m pytest -q tests/test_beam.py

# PyTorch (dataprep.torch) in its own venv: torch==2.13.0 first, the CPU build (a looser pin can pull a CUDA
# build of several GB); not part of `make test`, whose venv has TensorFlow and no torch.
TORCH := .venv-torch
$(TORCH)/.installed: setup.cfg pyproject.toml
	test -x $(TORCH)/bin/python || $(PYTHON) -m venv $(TORCH)
	$(TORCH)/bin/pip install --quiet torch==2.13.0
	$(TORCH)/bin/pip install --quiet -e '.[test-torch]'
	touch $@

test-torch: $(TORCH)/.installed
	$(TORCH)/bin/python -m pytest -q tests/test_torch.py

# Write/read throughput against the tutorial baselines, every figure the median of 3 fresh processes, and the
# peak RSS of a 10M-row CSV conversion (~15 min on 2 cores): benchmarks/results/latest.json; then random access,
# both shuffles and Grain over SplitReader vs ArrayRecord (~2 min): random_access.json.
bench: install
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.random_access

# --workers 1 vs 2 and the Beam DirectRunner (in process, 2 processes) on the same input (~2 min).
bench-scaling: $(BEAM)/.installed
	$(BEAM)/bin/python -m benchmarks.scaling

# The peers (TFDS, the tfrecord package, array_record + grain, Ray Data) on the same table, in their own venv so
# their pins never reach dataprep's (~10 min): benchmarks/results/peers.json.
PEERS := .venv-peers
$(PEERS)/.installed: benchmarks/peers-requirements.txt setup.cfg pyproject.toml
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet --upgrade pip
	$(PEERS)/bin/pip install --quiet -r benchmarks/peers-requirements.txt
	$(PEERS)/bin/pip install --quiet -e .
	touch $@

bench-peers: $(PEERS)/.installed
	$(PEERS)/bin/python -m benchmarks.peers

# The performance tables of docs/performance.md, printed from benchmarks/results/*.json (never typed by hand).
bench-readme: install
	$(BIN)/python -m benchmarks.report --readme

clean:
	rm -rf $(VENV) $(BEAM) out build *.egg-info
