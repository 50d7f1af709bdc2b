"""Run only by the aws rehearsal (its name keeps it out of normal collection)."""

from pathlib import Path

from pytest_bdd import scenarios

scenarios(str(Path(__file__).with_name("failing.feature")))
