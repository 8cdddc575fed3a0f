"""Shared pytest configuration: fixture plugins every test can use."""

pytest_plugins = ["tests.helpers.registry_server"]
