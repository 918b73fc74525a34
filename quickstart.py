"""The main job: train the NTM copy model (`small`), export it, reload the
export and show what it does with a sequence it has never seen.

    python quickstart.py [--config smoke|small|paper]
"""

import argparse

import numpy as np


def show(label, matrix):
    print(f"{label} ({matrix.shape[0]} steps x {matrix.shape[1]} bits, '#' = 1, '.' = 0, ' ' = no target):")
    for row in matrix.T:
        print("   " + "".join(" " if v < 0 else "#" if v > 0.5 else "." for v in row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="small", choices=("smoke", "small", "paper"))
    args = parser.parse_args()

    from train import ntm

    summary = ntm.main(["--task", "copy", "--model", "ntm", "--config", args.config])

    import tensorflow as tf

    from keras_l11.data.ntm_tasks import CopyTask

    serving = tf.saved_model.load(summary["export"]).signatures["serving_default"]
    inputs, targets = CopyTask().example(seed=12345, length=12)
    outputs = serving(sequence=tf.constant(inputs[None]))["probabilities"].numpy()[0]
    answer = targets >= 0
    errors = int(np.sum((outputs[answer] > 0.5) != (targets[answer] > 0.5)))
    print(f"\nReloaded {summary['export']} (signature serving_default: sequence -> probabilities)")
    show("input", inputs)
    show("target", targets)
    show("output", np.where(answer, outputs, -1))
    print(f"bit errors on this sequence: {errors} of {int(answer.sum())}")


if __name__ == "__main__":
    main()
