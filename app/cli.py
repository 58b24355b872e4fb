"""The ``orbitedge`` command line: run, validate, report, hardware, bench, card, sweep and compare."""

from __future__ import annotations

import sys

try:  # a Ctrl-C while the command's modules load (about 0.3 s) ends as one during the command does
    import argparse
    import json
    import os
    import signal
    import textwrap
    from pathlib import Path
    from typing import Any

    from rundir.errors import InputFileError, OrbitEdgeError
    from rundir.files import run_lock

    from .arguments import whole_number
    from .card_command import card_options, cmd_card
    from .compare import cmd_compare, compare_options
    from .figures import check_run_or_sweep_dir
    from .outputs import file_arg, folder_arg, io_error, output_dir, output_file
    from .progress import QUIET_HELP, ground_bar, wanted
    from .run_command import cmd_run, print_summary, print_warnings
    from .run_setup import bound_heap, terminate
    from .sweep_command import cmd_sweep, sweep_options
except KeyboardInterrupt:
    print("orbitedge: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

SET_HELP = ("override a scenario key (repeatable), e.g. --set spacecraft.radio.rate_mbps=50; VALUE is YAML, checked "
            "as if it were in the file; list items by index: satellites[0].name; quote text that YAML reads as "
            "another type: --set \"targets[0].name='NO'\"")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=file_arg, help="scenario YAML file")
    p.add_argument("--out", type=folder_arg, help="run directory (default: runs/<scenario name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help=SET_HELP)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--format", choices=("md", "html"), default="md", help="human-readable report format")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.add_argument("--json", action="store_true", help="print the report summary as JSON on stdout (schema: "
                   "`python -m app.summary`)")
    p.add_argument("--workers", type=whole_number(0, "worker processes"), default=None, metavar="N",
                   help="worker processes for the pixel work (render, camera, pipeline); 0 runs it all in this "
                        "process; the results are the same bytes whatever N, but for measured stage times, which "
                        "with N > 1 hold the workers' competition for the cores (default: the number of cores, or 0 "
                        "with compute.timing: measured)")
    p.add_argument("--realtime", type=float, metavar="FACTOR",
                   help="run in real time (SimPy RealtimeEnvironment, strict): FACTOR wall seconds per simulated "
                        "second; fails when this device cannot keep up")


def cmd_validate(args: argparse.Namespace) -> int:
    from onboard.scenario.config import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    print_warnings(scenario)
    from onboard.sim.imaging import strip_frames
    from onboard.sim.mission import build_pipeline

    build_pipeline(scenario)  # what the run builds first: a stage plugin whose constructor fails is named here
    most = max((strip_frames(scenario.spacecraft.camera, t.radius_km) for t in scenario.targets), default=0)
    print(f"{args.scenario}: OK ({scenario.name}: {len(scenario.satellites)} satellite(s), "
          f"{len(scenario.ground_stations)} station(s), {len(scenario.targets)} target(s), up to {most} frame(s) a "
          f"pass over one, pipeline {' -> '.join(s.name for s in scenario.stages)}, {scenario.duration_h:g} h)")
    return 0


def _validate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=file_arg, help="scenario YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help=SET_HELP)


def cmd_report(args: argparse.Namespace) -> int:
    from ground.report import report_steps, write_report

    check_run_or_sweep_dir(args.run_dir)
    if not os.access(args.run_dir, os.W_OK):  # a read-only share: said before any part is made again
        raise InputFileError(args.run_dir, "not writable (a read-only file system or share?): the report writes "
                                           "report.json, report.md, mosaics/, plots/ and stac/ into the run directory "
                                           "and nothing else there; copy it somewhere writable (cp -r) and report the "
                                           "copy")
    bound_heap()
    previous = signal.signal(signal.SIGTERM, terminate)  # stops the report as Ctrl-C does: "interrupted", 130
    try:
        with run_lock(args.run_dir), ground_bar(wanted(args.quiet), report_steps()) as show:
            report, paths = write_report(args.run_dir, args.format, show)
    except KeyboardInterrupt:  # its mosaics, plots and STAC part remade: the run's own data are untouched
        print(f"orbitedge: interrupted; the report of {args.run_dir} is not whole: `orbitedge report {args.run_dir}` "
              "writes it again", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_summary(report, paths, args)
    return 0


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="run directory holding downlink/ (and telemetry/, truth/ if present)")
    p.add_argument("--format", choices=("md", "html"), default="md", help="human-readable report format")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.add_argument("--json", action="store_true", help="print the report summary as JSON on stdout")


def cmd_hardware(args: argparse.Namespace) -> int:
    from onboard.runtime.hardware import load_profile, profile_names

    if args.action == "list":
        if args.name is not None:
            raise OrbitEdgeError(f"'hardware list' takes no profile name; use 'orbitedge hardware show {args.name}'")
        print(hardware_table([load_profile(name) for name in profile_names()]))
        return 0
    if args.name is None:
        raise OrbitEdgeError("'hardware show' needs a profile name; choose from " + ", ".join(profile_names()))
    print(hardware_details(load_profile(args.name)))
    return 0


def hardware_table(profiles: list[Any]) -> str:
    """One aligned row per profile: delegate, relative speeds, memory and power in each state."""
    head = (f"  {'name':<18}{'delegate':<10}{'cpu/core':>9}{'int8':>8}{'memory MB':>11}"
            f"{'idle W':>8}{'compute W':>11}{'transmit W':>12}")
    rows = [f"  {p.name:<18}{p.delegate:<10}{p.cpu_relative:>9.3g}{p.int8_conv_relative:>8.3g}{p.memory_mb:>11g}"
            f"{p.power_w.idle:>8.3g}{p.power_w.compute:>11.3g}{p.power_w.transmit:>12.3g}" for p in profiles]
    note = "  speeds relative to the reference host (x1); `orbitedge hardware show NAME` cites the source of each"
    return "\n".join([head, *rows, note])


def hardware_details(p: Any) -> str:
    """Every figure of a profile, then each source with the published value and the derivation."""
    lines = [f"{p.name}: {p.description}",
             f"  delegate            {p.delegate}",
             f"  cpu_relative        {p.cpu_relative:g}  (one core, vs one host core)",
             f"  int8_conv_relative  {p.int8_conv_relative:g}  (int8 inference vs the host's single thread)",
             f"  memory_mb           {p.memory_mb:g}",
             f"  power_w             idle {p.power_w.idle:g}, compute {p.power_w.compute:g}, "
             f"transmit {p.power_w.transmit:g}",
             "  sources:"]
    for s in p.sources:
        lines.append(f"    - {s.figure}: {s.value}")
        for label, text in (("source", s.source), ("derived", s.derivation)):
            lines += textwrap.wrap(f"{label}: {text}", 108, initial_indent=" " * 8, subsequent_indent=" " * 10,
                                   break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def _hardware_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "show"), help="list all profiles, or show one with its sources")
    p.add_argument("name", nargs="?", help="profile name for show")


def _bench_json_target(path: Path) -> None:
    """Refuse ``--json`` onto an existing file that is not an earlier bench report (a JSON object with ``host`` and
    ``models``), before anything is measured: a mistyped path would otherwise overwrite, say, a scenario."""
    if not path.is_file():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        earlier = None
    if not (isinstance(earlier, dict) and {"host", "models"} <= earlier.keys()):
        raise OrbitEdgeError(f"--json {path}: the file is there and is not an earlier bench report; expected a new "
                             "path or a bench report to replace, found another file (left as it is)")


def cmd_bench(args: argparse.Namespace) -> int:
    from onboard.runtime import bench, bench_table
    from onboard.runtime.hardware import load_profile

    profile = load_profile(args.profile) if args.profile else None
    if profile is not None and args.device != "host":
        raise OrbitEdgeError(f"--profile projects host measurements onto {args.profile}; use it with --device host")
    if args.json:
        _bench_json_target(output_file(args.json, "--json"))
    if args.runtime in (bench.ONNX_RUNTIME, "both") or args.device in bench.ONNX_DEVICES:
        output_dir(args.onnx_dir, "--onnx-dir", writes=False)  # where ONNX twins are exported, or read when current
    results = [bench.measure(path, args.device, args.threads, args.runs, args.warmup, profile)
               for path in bench.runtime_files(bench.resolve_models(args.model), args.runtime, args.device,
                                               args.onnx_dir)]
    print(bench_table.render(results, profile))
    if args.json:
        args.json.write_text(json.dumps(bench.report(results, profile), indent=2) + "\n", encoding="utf-8")
        print(f"  wrote {args.json}")
    return 0


def _device(value: str) -> str:
    if value in ("host", "edgetpu", "onnx-cuda", "onnx-tensorrt") or (value.startswith("external:") and value != "external:"):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: choose host, edgetpu, external:PATH, onnx-cuda or onnx-tensorrt")


def _bench_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a shipped model name (e.g. cloud_bgrn_int8), 'all', or a path to a .tflite or "
                                 ".onnx file")
    p.add_argument("--device", type=_device, default="host",
                   help="host (CPU: XNNPACK, or ONNX Runtime's CPU provider), edgetpu (libedgetpu.so.1), "
                        "external:PATH (a TFLite delegate .so), onnx-cuda or onnx-tensorrt (the ONNX twin on ONNX "
                        "Runtime's CUDA or TensorRT provider: onnxruntime-gpu)")
    p.add_argument("--runtime", choices=("auto", "litert", "onnxruntime", "both"), default="auto",
                   help="auto: the file's own; litert or onnxruntime: that runtime on the model or its twin; both: "
                        "side by side, with how far their outputs agree (the ONNX twin: MODEL.onnx beside it, or "
                        "exported by tf2onnx into --onnx-dir)")
    p.add_argument("--onnx-dir", type=folder_arg, default=Path("build") / "onnx", metavar="DIR",
                   help="where ONNX twins of .tflite models are exported (default build/onnx)")
    p.add_argument("--threads", type=whole_number(1, "threads"), default=1,
                   help="interpreter threads (default 1, as the simulation)")
    p.add_argument("--runs", type=whole_number(1, "runs"), default=50,
                   help="timed inferences, and Offline samples (default 50)")
    p.add_argument("--warmup", type=whole_number(0, "runs"), default=5,
                   help="untimed inferences after the first (default 5)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    p.add_argument("--profile", metavar="NAME", help="add the latency projected onto a hardware profile, as a run's")


COMMANDS = {  # name: (help, example, add options, run)
    "run": ("simulate a scenario end to end and write the ground report",
             "orbitedge run scenarios/quickstart.yaml --out runs/quickstart --set seed=7", _run_options, cmd_run),
    "validate": ("check a scenario and report every problem at once (exit 2 if any)",
             "orbitedge validate scenarios/cubesat_sband.yaml --set duration_h=6", _validate_options, cmd_validate),
    "report": ("ground segment only: verify, stitch and score a run directory's downlinked products",
             "orbitedge report runs/quickstart --format html", _report_options, cmd_report),
    "hardware": ("list the on-board computer profiles, or show one with its sources",
             "orbitedge hardware show coral-usb", _hardware_options, cmd_hardware),
    "bench": ("benchmark models: latency percentiles, throughput, memory, float32 and int8 side by side",
             "orbitedge bench all --json bench.json --profile coral-usb", _bench_options, cmd_bench),
    "card": ("write the model card (a STAC MLM Item) of a user's .tflite or .onnx model, for a scenario's model: "
             "key (init), or score its cloud model on real labelled tiles into the card (score)",
             "orbitedge card init my_cloud.onnx --task segmentation --bands B,G,R,NIR --classes clear,cloud "
             "--activation softmax", card_options, cmd_card),
    "sweep": ("a trade study: many runs on Dask (a LocalCluster, or --scheduler), ranked, with a Pareto front",
              "orbitedge sweep sweeps/threshold.yaml --workers 2", sweep_options, cmd_sweep),
    "compare": ("the key figures of run directories side by side",
                "orbitedge compare runs/quickstart runs/sweep-threshold/runs/c000-r0", compare_options, cmd_compare),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orbitedge", description="Simulate on-board (edge) satellite image processing and score it on the ground.",
        epilog="example: orbitedge run scenarios/quickstart.yaml", formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(parsers=sub.choices)  # each command's own parser: its usage for options it does not take
    for name, (help_text, example, options, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        options(p)
        p.set_defaults(func=fn)
    return parser


def _attach_set_values(argv: list[str]) -> list[str]:
    """``--set X`` as ``--set=X``: argparse takes an X that starts with ``-`` for an option and stops with its own
    usage error; attached, X reaches the scenario's checks, which name the --set and what is wrong with it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--set" and arg.startswith("-"):
            out[-1] = f"--set={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        parser, argv = build_parser(), _attach_set_values(sys.argv[1:] if argv is None else list(argv))
        args, extra = parser.parse_known_args(argv)
        if extra:  # after the command, under its usage: argparse names them under the top-level one, no options
            after = argv.index(args.command) < argv.index(extra[0])
            (args.parsers[args.command] if after else parser).error(f"unrecognized arguments: {' '.join(extra)}")
        status = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, in the handler below, not at exit
        return status
    except OrbitEdgeError as err:
        print(f"orbitedge: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orbitedge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`orbitedge ... | head`): stop quietly, as a command killed by SIGPIPE does. Python
        # flushes stdout again at exit, so point it at /dev/null first (Python docs, "Note on SIGPIPE", signal module)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as err:  # the file system refused: a read-only or full disk, a path gone
        print(f"orbitedge: error: {io_error(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
