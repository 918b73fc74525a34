"""Training jobs: `python -m train.<task>`."""
