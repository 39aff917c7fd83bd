"""Chat templates rendered in a guarded sandbox under one time and size budget."""
