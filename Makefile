# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow claims claims-precisions lint bench docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The main job: LeNet-5 on mnist5k on the CPU (prints its test accuracy, leaves runs/demo-lenet5),
# then every experiment of the notes in quick mode, written as one report.
demo: $(STAMP)
	rm -rf runs/demo-lenet5
	$(BIN)/dlcanon train lenet5 --data mnist5k --device cpu --out runs/demo-lenet5
	$(BIN)/dlcanon reproduce --quick --out reports/quick

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# Every experiment in quick mode (one worker per core), one line each: fails when one errors or its verdict
# differs from the one its registration declares (holds, or disagrees="reason").
claims: $(STAMP)
	$(BIN)/dlcanon reproduce --quick --check --out reports/claims

lint: $(STAMP)
	$(BIN)/ruff check .

# The claims check with auto precision fixed both ways, whatever this machine's bf16: the verdicts must agree.
claims-precisions: $(STAMP)
	$(BIN)/dlcanon reproduce --quick --check --precision fp32 --out reports/claims-fp32
	$(BIN)/dlcanon reproduce --quick --check --precision bf16 --out reports/claims-bf16

# Every speed figure side by side in one run (about 20 minutes: the whole quick report is one of them);
# regenerates docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/dlcanon bench mnist5k report --markdown docs/benchmarks.md

# Every measured table of the prose pages (README.md, docs/*.md) rewritten by the commands its block names
# (`dlcanon.report.docblocks`); about 40 minutes on 2 cores, most of it the GAN and flow trainings.
# One page: `make docs PAGES=docs/gans.md`; from the kept outputs, no training: `make docs REUSE=--reuse`.
PAGES ?= README.md docs/*.md
docs: $(STAMP)
	$(BIN)/python -m dlcanon.report.docblocks $(REUSE) $(PAGES)

clean:
	rm -rf $(VENV) runs reports
