"""Root conftest: every test session gets the local platform fixtures (`platform`)."""

pytest_plugins = ["emporium_platform.pytest_plugin"]
