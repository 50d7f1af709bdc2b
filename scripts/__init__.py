"""The tools for people: thin command lines over the harness (see pyproject.toml)."""
