# Set-up and everyday commands. Each target creates .venv when it is missing and refreshes it
# when constraints, packaging or sources change; torch is pinned to the local CPU build.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install -q -c constraints.txt
SOURCES := $(shell find csrc graphsci chem protein tabular activelearn -type f -not -path '*/__pycache__/*' 2>/dev/null)
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Never let the source folder graphsci/ (which has no compiled _C) shadow the installed package.
export PYTHONSAFEPATH=1

.PHONY: demo test bench zoo sanitize wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Build tools and runtime dependencies (torch first, so nothing pulls a CUDA build).
$(VENV)/.deps: constraints.txt pyproject.toml | $(BIN)/python
	$(PIP) torch==2.13.0
	$(PIP) scikit-build-core nanobind numpy scipy tqdm networkx pytest hypothesis rdkit pandas scikit-learn safetensors platformdirs biopython lightgbm autogluon.tabular matplotlib nbclient nbformat ipykernel
	touch $@

# graphsci itself, rebuilt incrementally (build/ keeps the CMake tree) when sources change.
$(VENV)/.graphsci: $(VENV)/.deps CMakeLists.txt $(SOURCES)
	$(PIP) --no-build-isolation --no-deps .
	touch $@

# The main job: the bundled ESOL solubility ensemble on real drugs (BBBP set), offline.
demo: $(VENV)/.graphsci
	$(BIN)/graphsci predict esol ../shared/data/molecules/bbbp.csv --head 12 --format table

test: $(VENV)/.graphsci
	$(BIN)/python -m pytest -q --durations=12 tests

bench: $(VENV)/.graphsci
	bash ../shared/tools/peers-venv.sh
	/tmp/peers/bin/pip install -q --no-deps --force-reinstall .
	/tmp/peers/bin/pip install -q -c constraints.txt safetensors platformdirs
	/tmp/peers/bin/python benchmarks/kernels.py
	$(BIN)/python benchmarks/dropout.py
	/tmp/peers/bin/python benchmarks/node_classification.py
	/tmp/peers/bin/python benchmarks/featurize.py
	/tmp/peers/bin/python benchmarks/predict_cli.py
	$(BIN)/python benchmarks/proteins.py
	$(BIN)/python benchmarks/active_learning.py --datasets cora citeseer cora_ml --molecules --speed

# Retrains the bundled pretrained models from ../shared/data (fixed seeds) and their registry.
zoo: $(VENV)/.graphsci
	$(BIN)/python graphsci/zoo/build.py $(ZOO_MODELS)

# The kernels under AddressSanitizer + UndefinedBehaviorSanitizer: an instrumented copy of the
# package in build/asan/pkg shadows the installed one for the op and residue-geometry tests.
# libstdc++ is preloaded too: ASan's exception interceptor must find it at start-up, and the
# python binary does not link it.
ASAN_LIB = $(shell $(CXX) -print-file-name=libasan.so) $(shell $(CXX) -print-file-name=libstdc++.so)
sanitize: $(VENV)/.graphsci
	cmake -S . -B build/asan -DGRAPHSCI_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DPython_EXECUTABLE=$(abspath $(BIN)/python) >/dev/null
	cmake --build build/asan -j2
	rm -rf build/asan/pkg && mkdir -p build/asan/pkg && cp -r graphsci build/asan/pkg/ && cp build/asan/_C*.so build/asan/pkg/graphsci/
	cp -r protein build/asan/pkg/graphsci/protein && cp -r tabular build/asan/pkg/graphsci/tabular
	cp -r chem build/asan/pkg/graphsci/chem
	cd build/asan/pkg && PYTHONSAFEPATH= LD_PRELOAD="$(ASAN_LIB)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH=$(abspath build/asan/pkg) \
	  $(abspath $(BIN)/python) -m pytest -q -p no:cacheprovider $(abspath tests)/test_ops.py \
	  $(abspath tests)/test_ops_errors.py $(abspath tests)/test_native_kernels.py $(abspath tests)/test_graph.py \
	  $(abspath tests)/test_mol_columns.py $(abspath tests)/test_dropout.py \
	  $(abspath tests)/test_protein.py -k "not predictor and not command_line and not residue_level and not geometry_free and not balanced"
	cd build/asan/pkg && PYTHONSAFEPATH= LD_PRELOAD="$(ASAN_LIB)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH=$(abspath build/asan/pkg) \
	  $(abspath $(BIN)/python) -m pytest -q -p no:cacheprovider $(abspath tests)/test_tabular.py -k propagation

# The wheel builds with only scikit-build-core + nanobind in an isolated build environment (no
# torch), and the installed wheel imports and runs against the pinned torch in a fresh venv.
wheel-check: $(BIN)/python
	rm -rf build/wheel-check && $(PYTHON) -m venv build/wheel-check/venv
	build/wheel-check/venv/bin/pip install -q -c constraints.txt torch==2.13.0
	build/wheel-check/venv/bin/pip install -q -c constraints.txt .
	cd build/wheel-check && venv/bin/python -c "import graphsci, torch; from graphsci import ops; \
	  g = graphsci.Graph([0, 1], [1, 0]); assert ops.native_available(); \
	  print('wheel ok: kernels', ops.native_isa(), 'torch', torch.__version__, ops.spmm(g, torch.ones(2, 3)).sum().item())"

clean:
	rm -rf $(VENV) build
