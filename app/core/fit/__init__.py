"""Will it fit: memory a model needs here, from its header or its size."""
