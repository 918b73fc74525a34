"""Serving: TF Serving configs for `saved_models/` (the local server comes with the serving issue)."""
