"""Names the NTM's models, configs and job share, importable without TensorFlow
(so `python -m train.ntm --help` answers at once)."""

# The paper's four tasks (section 4), in its order.
TASK_NAMES = ("copy", "repeat_copy", "associative_recall", "priority_sort")

# `--model`: the NTM with an LSTM controller (the paper's Table 2), with a
# feed-forward controller (Table 1), and the LSTM baseline (Table 3).
MODEL_NAMES = ("ntm", "ntm_feedforward", "lstm")
