"""Talking to OpenAI-compatible Chat Completions servers: client, prompts, structured answers.

The backends in `assistant.backends.openai` use this package; nothing here knows about
storage or review.
"""
