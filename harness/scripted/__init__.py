"""A scripted stand-in for a model provider: an OpenAI-compatible (and Anthropic Messages) chat server on
127.0.0.1 that plays scripted tool calls, real providers' error bodies and their prefix-caching usage. The tests
and the demo drive the real litellm client against it.

May import only the top-level leaves; it sits below `agent` so that any stage's tests can start it.
"""
