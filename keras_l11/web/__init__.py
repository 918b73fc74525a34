"""The lecture's web demos (handwriting, captioning, ranking): static pages that
call a model server's TF Serving REST API, mounted on the local server by `--web`."""
