"""The training harness shared by every job: flags, strategy, fit, export."""
