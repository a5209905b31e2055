"""Platform adapters. Each package implements ``gateway.adapter.Adapter``.

Only ``adapters.registry`` is imported by the core; it maps a platform name to the
factory that builds that platform's adapter from its config section.
"""
