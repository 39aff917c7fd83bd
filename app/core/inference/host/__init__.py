"""Model hosts: llama.cpp runs in child processes, so no model can take Hearth down.

A model file that passes Hearth's own check can still make llama.cpp abort the process
(``GGML_ASSERT``, ``std::bad_alloc``) or crash it; a C++ loader that changes every month
cannot be pre-checked. Each loaded model therefore lives in a host process started from
Hearth's own executable with a hidden flag (``--model-host``), driven over its stdin/stdout:

- ``wire``: the frames (length-prefixed JSON) both sides exchange;
- ``process``: the parent's handle on one child: start, send, events, its stderr tail, how it
  died;
- ``engine_host``: the child's side: an ``Engine`` answering the parent's requests;
- ``hosted_engine``: the parent's side: ``HostedEngine``, with ``Engine``'s methods, so the
  chat, the API server, Compare and the CLI drive a host as they drove an engine.
"""
