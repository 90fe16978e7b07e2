# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean install

# The twin's event loop is compiled with Cython at install (setup.py); BUILT rebuilds it
# in place when its sources change (a stale build is never used, see twin/_compiled.py).
BUILT := $(VENV)/.twin-built
TWIN_SRC := $(wildcard src/phactory/twin/*.py src/phactory/twin/*.pxd) setup.py

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(BUILT)

$(BUILT): $(STAMP) $(TWIN_SRC)
	$(BIN)/python setup.py --quiet build_ext --inplace \
		|| echo "the compiled twin was not built: the same code runs as plain Python"
	touch $(BUILT)

install: $(STAMP) $(BUILT)

demo: $(STAMP) $(BUILT)
	$(BIN)/phactory demo

test: $(STAMP) $(BUILT)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP) $(BUILT)
	$(BIN)/python benchmarks/load_site.py

clean:
	rm -rf $(VENV) build *.egg-info src/phactory/twin/*.c src/phactory/twin/*.so src/phactory/twin/_compiled.json .pytest_cache .mypy_cache .ruff_cache
