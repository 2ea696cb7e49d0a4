# Two commands on a fresh machine: `make demo` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-output

.PHONY: setup demo test test-deps clean

setup: $(STAMP)

# torch is pinned to the CPU build that these machines carry; an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lwnet evaluate --root src/lwnet/data/sample --pair SPECT-MRI \
		--method mean=builtin:mean --out $(DEMO_OUT) --overwrite

# The report test opens the benchmark page in headless chromium; install it where allowed and
# go on without it (that test then skips with its reason) where not.
test-deps:
	-command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(STAMP) test-deps
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
