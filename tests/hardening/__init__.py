"""Issue 34: bad inputs from users and devices (a package, so that its conftest does not shadow tests/conftest.py)."""
