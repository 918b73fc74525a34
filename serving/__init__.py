"""TensorFlow Serving configs (models, batching, monitoring), the Kubernetes manifest,
and `python -m serving`: the local TF-Serving-compatible server from a checkout
(the server itself is library code, `keras_l11.serving`)."""
