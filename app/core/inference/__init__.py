"""Running models: the value types every front end shares (``types``); the llama.cpp engine,
its host processes and remote servers build on them."""
