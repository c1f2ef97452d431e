# The two entry points of the README: `make run` and `make test` (and the fast loop, `make test-fast`).
# All create .venv on first use and install exactly what pyproject.toml pins.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# torch comes from pip's default index: a CUDA build on Linux from PyPI, the CPU
# build where the machine provides one (as here). To force a CPU build
# elsewhere: make TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=
# llama-cpp-python is compiled here (PyPI has only its sdist), for the CPU features the kernel
# reports rather than -march=native, which died with SIGILL on VMs (envs/ggml_cpu_flags.py says
# why). Options of your own in CMAKE_ARGS (e.g. -DGGML_CUDA=on) come after and win. No pip
# cache: a wheel cached from another build's flags would be reused silently.
LLAMA_CPP_CMAKE_ARGS ?= $(shell $(PYTHON) envs/ggml_cpu_flags.py)
pin = $(shell $(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); print(" ".join($(1)))')

.PHONY: run test test-fast faults lint format clean
.DEFAULT_GOAL := run

$(INSTALLED): pyproject.toml envs/ggml_cpu_flags.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) \
		'$(call pin,[d for d in p["project"]["dependencies"] if d.startswith("torch==")])'
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS) $$CMAKE_ARGS" $(BIN)/pip install --quiet --no-cache-dir \
		--no-deps --force-reinstall \
		'$(call pin,[d for d in p["project"]["dependencies"] if d.startswith("llama-cpp-python==")])'
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(call pin,p["tool"]["llmbench"]["no-deps"])
	touch $@

run: $(INSTALLED) cjk-font
	$(BIN)/snakemake --cores 1 --resources gpu=1

# System packages the tests drive for real, from Debian: Chromium (the report's
# browser test, with a CJK font so the Chinese report is really readable) and a
# single-node SLURM with munge (the cluster test starts and stops it itself).
CHROMEDRIVER := /usr/bin/chromedriver
SLURMD := /usr/sbin/slurmd
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends

$(CHROMEDRIVER):
	$(SUDO) apt-get update -qq
	$(APT_INSTALL) chromium chromium-driver fonts-wqy-zenhei

# The report's figures are labelled in Chinese by default: a CJK font, from Debian where
# apt is there (best effort: without one the labels are drawn as boxes, and the log says so).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
.PHONY: cjk-font
cjk-font:
	@test -f $(CJK_FONT) || ! command -v apt-get >/dev/null || \
		{ $(SUDO) apt-get update -qq && $(APT_INSTALL) fonts-wqy-zenhei; } || \
		echo "note: no CJK font installed; Chinese plot labels will be drawn as boxes"

$(SLURMD): | $(CHROMEDRIVER)
	$(APT_INSTALL) slurmctld slurmd slurm-client munge

test: $(INSTALLED) $(CHROMEDRIVER) $(SLURMD)
	$(BIN)/pytest

# The fast loop while editing: the unit tests without the slow ones (tests marked `slow`:
# real backends in child processes, model builds and conversions); no Snakemake run, no apt.
test-fast: $(INSTALLED)
	$(BIN)/pytest tests/unit -m "not slow" -q

# The fault-injection and bad-input cases alone; `make test` runs them too and
# prints the same summary line: faults survived: N/N, bad inputs rejected clearly: M/M
faults: $(INSTALLED)
	$(BIN)/pytest -m "fault or bad_input"

lint: $(INSTALLED)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check src scripts tests benchmarks envs
	$(BIN)/ruff format --check src scripts tests benchmarks envs

format: $(INSTALLED)
	$(BIN)/snakefmt Snakefile rules
	$(BIN)/ruff format src scripts tests benchmarks envs

clean:
	rm -rf results logs .snakemake report.html
