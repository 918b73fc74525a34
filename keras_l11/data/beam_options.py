"""The preparation commands' options: ours, and Beam's passed through to the runner."""

import os

SHARDS_PER_SPLIT = 64  # with items_per_shard 0: shards a split is cut into, for a small set

PIPELINE_HELP = (
    "Any other --option is a Beam pipeline option, passed to the runner: --runner (DirectRunner by default: "
    "a worker process per core), --direct_num_workers N, or e.g. --runner DataflowRunner --project P "
    "--region R --temp_location gs://B/tmp --setup_file ./setup.py; Flink and Spark likewise."
)


def pipeline_options(args, pending):
    """Beam options from command-line `args`; on the local runner (the default)
    a worker process per core (at most one per pending shard) unless the
    args say otherwise, and the workers' logs at WARNING."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(args)
    given = {a.split("=")[0] for a in args if a.startswith("--")}
    runner = next((a.split("=", 1)[1] for a in args if a.startswith("--runner=")), None)
    if runner is None and "--runner" in args:
        runner = args[args.index("--runner") + 1]
    if runner is None:
        args.append("--runner=DirectRunner")
    if runner in (None, "DirectRunner", "direct") and "--direct_running_mode" not in given:
        if "--direct_num_workers" in given:
            workers = PipelineOptions(args).get_all_options()["direct_num_workers"]
        else:
            workers = max(1, min(os.cpu_count() or 1, pending))
            args.append(f"--direct_num_workers={workers}")
        args.append(f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}")
    if "--default_sdk_harness_log_level" not in given:
        args.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(args)


def job_pipeline_args():
    """Beam options for the preparations that training jobs start themselves
    (their data is missing): `$KERAS_L11_PIPELINE_ARGS`, e.g. "--direct_num_workers=1"."""
    return os.environ.get("KERAS_L11_PIPELINE_ARGS", "").split()


def command_parser(prog, description, max_items_per_shard, what):
    """An argparse parser with the flags every preparation command has."""
    import argparse

    from keras_l11.data.install import prepared_dir

    root = prepared_dir()
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=PIPELINE_HELP)
    parser.add_argument("--output", default=root, help=f"root folder (or gs://... URI) of the outputs; default {root}")
    parser.add_argument(
        "--items_per_shard",
        type=int,
        default=0,
        help=f"{what} per output file (default: about {SHARDS_PER_SPLIT} files per split, "
        f"at most {max_items_per_shard} {what} each)",
    )
    parser.add_argument(
        "--tfds_data_dir", default="", help="where TFDS's prepared data sets are (default $TFDS_DATA_DIR)"
    )
    return parser


def parse_command(parser, argv=None):
    """`(our flags, Beam's pipeline args)`: what the parser does not know goes
    to Beam; a stray value (not an option's) is an error."""
    args, rest = parser.parse_known_args(argv)
    stray = [
        a
        for i, a in enumerate(rest)
        if not a.startswith("-") and (i == 0 or not rest[i - 1].startswith("--") or "=" in rest[i - 1])
    ]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    return args, rest


def summary_line(folder, report, what):
    per_split = ", ".join(f"{s}: {v['items']} {what}" for s, v in report["splits"].items())
    return (
        f"{folder}: {per_split}; {len(report['skipped'])} skipped; "
        f"{report['shards_written']} shards written now, {report['shards_done_before']} before"
    )
