"""Emporium shared service kit.

Modules: settings, logging, telemetry, metrics, health, resilience, clients, errors, auth,
testing, graphql, app (and events, the event bus). Import from the submodules; this package
re-exports nothing so importing one module never drags in the others.
"""
