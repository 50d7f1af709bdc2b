"""What the acceptance tests drive: targets, drivers, readiness waits, the teardown check."""
