"""Test doubles: stand-ins for what these machines cannot reach. Never shipped."""
