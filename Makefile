# The two commands in the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= runs/demo

.PHONY: setup demo test test-long clean

setup:
	@scripts/setup-venv.sh

demo: setup
	$(VENV)/bin/neurokit deploy examples/mnist_cnn/mnist_cnn.pt --data mnist --samples 500 --steps 48 --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf runs .pytest_cache
