"""Adversarial and fooling images: Szegedy et al.'s cross-model and
cross-training-set tables beside the paper's (Markdown), with each model's
errors, L-BFGS and FGSM distortions and attack time per image; and the
fooling search per encoding (classes fooled at 99.99%, generations, wall
time), with the champions' pictures copied to `docs/robustness/`.

    python -m benchmarks.robustness            # trains the three small runs first (about 15 min)
    python -m benchmarks.robustness --reuse    # reads their runs/benchmark/*/summary.json if present
"""

import os
import shutil

from benchmarks.common import ROOT, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

DOCS = os.path.join(ROOT, "docs", "robustness")
ENCODINGS = ("direct", "cppn")


def fooling_table(runs):
    rows = []
    for encoding, summary in runs.items():
        ev = summary["evaluation"]
        generations = list(ev["first_fooled_generation"].values())
        rows.append(
            [
                encoding,
                f"{round(10 * ev['classes_fooled'])}/10",
                max(generations) if len(generations) == 10 else "not all",
                sorted(generations)[len(generations) // 2] if generations else "",
                ev["generations"],
                ev["children_per_generation"],
                ev["search_seconds"],
                f"{100 * ev['lenet_test_error']:.2f}%",
            ]
        )
    rows.append(["paper (MNIST, both encodings)", "10/10", "< 50", "", "", "", "", "0.94%"])
    header = ["encoding", "classes fooled >= 99.99%", "generation all fooled", "median generation"]
    return format_table([*header, "generations run", "children per generation", "seconds", "LeNet test error"], rows)


def agreement(ours, paper, columns, tolerance=10.0):
    """How many off-diagonal cells of a transfer table (row -> column -> error %)
    are within `tolerance` points of the paper's, and the cells that are not:
    `(within, total, misses)`."""
    within, total, misses = 0, 0, []
    for row, errors in ours.items():
        for column, reference in zip(columns, paper.get(row, ())):
            value = errors[column]
            if row.endswith(column) or row == column:  # the diagonal: a model on its own examples
                continue
            total += 1
            if abs(value - reference) <= tolerance:
                within += 1
            else:
                misses.append(f"{row} -> {column}: {value:.1f}% ({reference:g}%)")
    return within, total, misses


def agreement_section(summary):
    from keras_l11.robustness import task

    lines = []
    for title, ours, paper, columns in (
        ("Table 2", summary["evaluation"]["cross_model"], task.PAPER_CROSS_MODEL, task.CROSS_MODEL),
        ("Table 3", summary["evaluation"]["cross_training"], task.PAPER_CROSS_TRAINING, task.CROSS_TRAINING),
    ):
        within, total, misses = agreement(ours, paper, columns)
        lines.append(f"{title}: {within} of {total} off-diagonal cells within 10 points of the paper's")
        lines += [f"  not within: {miss}" for miss in misses]
    return "\n".join(lines)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    adversarial = run_small("adversarial", args.runs_dir, args.reuse)
    fooling = {
        encoding: run_small("fooling", args.runs_dir, args.reuse, f"fooling_{encoding}", ["--encoding", encoding])
        for encoding in ENCODINGS
    }
    os.makedirs(DOCS, exist_ok=True)
    shutil.copy(adversarial["examples_png"], os.path.join(DOCS, "adversarial.png"))
    for summary in fooling.values():
        shutil.copy(summary["champions_png"], DOCS)
    with open(os.path.join(os.path.dirname(adversarial["examples_png"]), "tables.md")) as f:
        tables = f.read().strip()
    write_report(
        "robustness",
        [
            ("Adversarial examples, small config (Markdown; the paper's figures in brackets)", tables),
            (
                "Agreement with the paper's transfer rates (errors in %, the paper's in brackets)",
                agreement_section(adversarial),
            ),
            ("Fooling images: MAP-Elites against LeNet on MNIST, small config", fooling_table(fooling)),
        ],
    )


if __name__ == "__main__":
    main()
