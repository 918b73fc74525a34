"""Names the generative models, configs and jobs share, importable without
TensorFlow (so a job's `--help` answers at once)."""

# How an autoencoder's code is limited (LeCun & Ranzato), and the sparsity penalties.
CODES = ("none", "bottleneck", "sparse", "denoising")
SPARSITY = ("l1", "kl")
