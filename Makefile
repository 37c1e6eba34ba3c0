# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates (or reuses) its own virtual environment in .venv; `make test` installs every
# extra so the tests cover them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_DIR ?= runs/demo-lm

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml constraints-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints-dev.txt torch==2.13.0
	$(PIP) install -q -c constraints-dev.txt -e '.[dev,plot,forecast,export]'
	touch $@

install: $(VENV)/.installed

demo: install
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/rnncli train lm --train data/lm/train.txt --valid data/lm/valid.txt \
		--out $(DEMO_DIR) --hidden 256 --layers 1 --embed 64 --batch-size 32 --seq-len 96 \
		--eval-every 100 --max-time 1 --seed 1
	$(VENV)/bin/rnncli eval $(DEMO_DIR) data/lm/valid.txt
	$(VENV)/bin/rnncli generate $(DEMO_DIR) --prompt "The " --max-tokens 200 --seed 1
	$(VENV)/bin/rnncli info $(DEMO_DIR)

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
