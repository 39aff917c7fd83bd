"""The model session: the inference thread, one reply per request, the API's backend."""
