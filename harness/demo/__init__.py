"""The key-free demo and what it stands on: the bundled tasks' rows and images, the scripted
OpenAI-compatible provider, and the scripted models' behaviour.

May import every stage; only `cli` imports it (tests and benchmarks use it too).
"""
