"""What the tests share, one way each.

- ``processes``: the real-process harness (Celery workers on the test databases, a Redis server of a
  test's own, a broker switch, polling another process's effect).
- ``factories``: factory_boy factories for the core models (rights request, line, plan, retention rule,
  subprocessor and its register rows).
- ``fixtures`` and ``platform``: pytest plugins, registered by ``tests/conftest.py`` (``pytest_plugins``),
  so every test module can ask for their fixtures by name without importing them.
"""
