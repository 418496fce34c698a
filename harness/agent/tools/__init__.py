"""The tools the model calls: their schemas (data in tools/), the dispatcher and the file editor."""
