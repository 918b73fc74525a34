"""Names the robustness task code, configs and jobs share, importable without
TensorFlow (so a job's `--help` answers at once)."""

# How a MAP-Elites genome becomes an image (Nguyen, Yosinski & Clune 2015).
ENCODINGS = ("direct", "cppn")
