"""The tools the model calls: their schemas (data in tools/), the dispatcher (`calls`) and the file editor
(`editor`, with the text it handles in `filetext`)."""
