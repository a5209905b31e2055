"""The ``palm`` command line."""
