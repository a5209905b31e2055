"""The staff web console, served by ``palm run`` at /console/ (see ``gateway.console.web``).

This package's ``__init__`` imports nothing: the funnel and the outbox import
``gateway.console.events`` and ``gateway.console.samples`` without pulling in the web app.
"""
