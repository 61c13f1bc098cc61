# The two commands in the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= runs/demo

.PHONY: setup demo test test-interop test-engine-long clean

setup:
	@scripts/setup-venv.sh

demo: setup
	$(VENV)/bin/neurokit deploy examples/mnist_cnn/mnist_cnn.pt --arch examples/mnist_cnn/train.py:make_model --data mnist --steps 4 --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q

# NIR graphs exported by sinabs and SpikingJelly (each in its own venv: .venv-sinabs, .venv-spikingjelly, made
# by scripts/setup-interop.sh) against neurokit's import; snnTorch and Norse run in the default `make test`
test-interop: setup
	scripts/setup-interop.sh
	$(PY) -m pytest -q -m interop tests/test_interop.py

# 1,000 random networks per strategy (chains and DAGs; DAGs with summed projections), Lava fixed_pt against the
# engine at every step (about 56 minutes on 2 cores)
test-engine-long: setup
	NEUROKIT_DIFF_EXAMPLES=1000 NEUROKIT_DIFF_RANDOM=1 $(PY) -m pytest -q tests/test_engine_differential.py tests/test_sigma_delta.py

clean:
	rm -rf runs .pytest_cache
