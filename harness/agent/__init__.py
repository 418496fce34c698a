"""One agent run: the loop, the model seam (litellm), the tools, the container (docker) and its shell.

May import only the top-level leaves (`exceptions`, `fileio`, `secrets`, `resources`, ...). `loop` itself
imports neither litellm nor docker: the model and the tool box are handed to it.
"""
