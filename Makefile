# Two commands on a fresh machine: `make demo` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-output

.PHONY: setup demo test test-deps test-minimum lint clean

setup: $(STAMP)

# torch is pinned to the CPU build that these machines carry; an unpinned torch pulls CUDA.
# Where pip's index has only PyPI's CUDA build of it (several GB), take the CPU one:
# make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# The main job on the shipped sample: fuse its three pairs with the shipped network (and two
# classical methods beside it), in colour to look at and as fused luminance, then score the
# luminance with the six metrics (as the benchmark scores every method).
SAMPLE := src/lwnet/data/sample
demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	for pair in SPECT-MRI PET-MRI CT-MRI; do \
		$(VENV)/bin/lwnet fuse -m lwnet -m gff -m mean --root $(SAMPLE) --pair $$pair \
			--out $(DEMO_OUT)/fused || exit 1; \
		$(VENV)/bin/lwnet fuse -m lwnet -m gff -m mean --root $(SAMPLE) --pair $$pair \
			--out $(DEMO_OUT)/luma --luma --quiet || exit 1; \
		$(VENV)/bin/lwnet evaluate --root $(SAMPLE) --pair $$pair --quiet \
			LWNet=$(DEMO_OUT)/luma/lwnet GFF=$(DEMO_OUT)/luma/gff mean=$(DEMO_OUT)/luma/mean \
			--out $(DEMO_OUT)/metrics/$$pair || exit 1; \
	done
	@echo "Fused images: $(DEMO_OUT)/fused/<method>/<pair>/<id>.png (luminance: $(DEMO_OUT)/luma); tables: $(DEMO_OUT)/metrics/"

# The report test opens the benchmark page in headless chromium; install it where allowed and
# go on without it (that test then skips with its reason) where not.
test-deps:
	-command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# The suite, then the linters: CI (.ci/run) fails on a type or lint error as on a test.
test: $(STAMP) test-deps
	$(PY) -m pytest -q
	$(MAKE) lint

# The suite at the oldest versions the project allows: Python 3.10 and the floors of
# pyproject.toml, pinned in .ci/minimum-versions.txt, in a venv of its own (about 4 GB: PyPI's
# torch 2.5 is a CUDA build). Not part of `make test`; run it when a floor changes.
MIN_PYTHON ?= python3.10
MIN_VENV ?= .venv-minimum
test-minimum:
	$(MIN_PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(MIN_VENV)/bin/python -m pip install -q -c .ci/minimum-versions.txt -e '.[test]'
	$(MIN_VENV)/bin/python -m pytest -q

# Lint with the rules in pyproject.toml ([tool.ruff]) and type-check the package
# ([tool.mypy]); ruff and mypy come with the `dev` extra, pinned so that a new release of
# either cannot fail CI on code that has not changed.
lint: $(STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(MIN_VENV) $(DEMO_OUT) .pytest_cache
