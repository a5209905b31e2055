"""Hostile-input handling shared by the API, the webhooks, the adapters and the CLI.

Each helper fixes one class of bad input at the point where it enters palm, so the
code behind it only ever sees well-formed values:

- ``jsonbody``: JSON bodies, bounded in depth, UTF-8 only (no ``RecursionError``, no
  ``LookupError`` for a bogus ``charset``);
- ``headers``: header values that must be visible ASCII (tokens, secrets, keys);
- ``inert``: resident-written text made harmless for a terminal (rich markup, ESC);
- ``argv``: command-line arguments that are not valid UTF-8.
"""
