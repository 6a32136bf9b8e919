"""The local AWS's own tests (a package, so that its conftest never shadows tests/conftest)."""
