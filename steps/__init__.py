"""Step definitions, one module per domain, loaded by the root conftest."""
