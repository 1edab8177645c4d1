"""Helpers the tests share: one deterministic fake embedder, servers on loopback and a bounded wait, stores and
fixtures, SIGKILL at a chosen point, the injection document, and one HTML parser."""
