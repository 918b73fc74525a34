"""Names the dense-prediction models, configs and jobs share, importable without
TensorFlow (so a job's `--help` answers at once)."""

# FCN-32s, -16s and -8s: the stride of the coarsest prediction that is upsampled.
VARIANTS = ("32s", "16s", "8s")
