"""Small integrations that exercise the core's plugin machinery in tests."""
