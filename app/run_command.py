"""``orbitedge run``: a scenario simulated into its run directory, then its report; what a run stopped before its end
leaves (a partial report, an earlier run kept aside), and the summary it prints."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rundir.errors import OrbitEdgeError
from rundir.files import run_lock, signals_held

from .outputs import io_error, output_dir
from .progress import ground_bar, simulation_bar, wanted
from .run_setup import (bound_heap, check_out, discard_earlier, prepare_run_dir as _prepare_run_dir,
                        release_simulation_memory, restore_earlier, terminate, unmake_run_dir,
                        write_resolved as _write_resolved)
from .summary import run_summary, summary_lines


# --realtime's largest factor: a million wall seconds per simulated second. Python's time.sleep refuses more than
# about 9.2e9 s (its nanoseconds in a signed 64-bit integer), which an hour between events reaches at 2.6e6, and
# infinity and factors past 1e308 had ended in a traceback from SimPy's clock.
REALTIME_MAX = 1e6


def cmd_run(args: argparse.Namespace) -> int:
    from onboard.scenario.config import load_scenario

    if args.realtime is not None and not 0 < args.realtime <= REALTIME_MAX:
        raise OrbitEdgeError(f"--realtime: expected a factor > 0 and at most {REALTIME_MAX:g} (wall seconds per "
                             f"simulated second), found {args.realtime}")
    from onboard.sim.frame_pool import default_workers

    scenario = load_scenario(args.scenario, args.overrides)
    measured = scenario.spacecraft.compute.timing == "measured"
    workers = args.workers
    if workers is None:  # measured stage times are this machine's: no other process of ours competes for its cores
        workers = 0 if measured else default_workers()
    elif workers > 1 and measured:  # the report's MEASURED times would hold the workers' competition for the cores
        scenario = dataclasses.replace(scenario, warnings=(*scenario.warnings, (
            f"{args.scenario}: --workers {workers}: spacecraft.compute.timing: expected --workers 0 or 1 with "
            "measured stage times (0 is the default: they are this machine's wall times), found "
            f"{workers} worker processes timing their frames side by side on {os.cpu_count()} cores: each measured "
            "stage time holds their competition for the cores, longer than on the device alone and different "
            "with each --workers")))
    if not args.quiet:
        print_warnings(scenario)
    run_dir = Path(os.path.normpath(args.out or Path("runs") / scenario.name))  # runA/downlink/.. is runA
    check_out(run_dir, args.overwrite)  # up front; an earlier run is replaced only once the mission is set up
    empty_before = run_dir.is_dir() and not any(run_dir.iterdir())
    output_dir(run_dir, "--out")  # one that cannot be made is said before any work (made now: gone if nothing runs)
    with contextlib.ExitStack() as held:
        try:  # a Ctrl-C before _fly's own handling begins (waiting for the lock) leaves nothing either
            if workers:  # the frames' pixel work runs in the frame pool's processes, which keep glibc's defaults
                bound_heap()
            held.enter_context(run_lock(run_dir))  # another run (or report) into the folder is refused until the end
        except KeyboardInterrupt as err:
            return _stopped(err, run_dir, args, set_up=False, made=False, empty_before=empty_before)
        check_out(run_dir, args.overwrite)  # again, now that no other process can change it
        previous = signal.signal(signal.SIGTERM, terminate)
        try:  # SIGTERM stops the run, and then its report, as Ctrl-C does, with the same words
            return _fly(scenario, run_dir, args, workers, empty_before)
        finally:
            signal.signal(signal.SIGTERM, previous)


def _fly(scenario: Any, run_dir: Path, args: argparse.Namespace, workers: int, empty_before: bool) -> int:
    """``orbitedge run`` once its run directory is checked: the mission into ``run_dir`` (an earlier run there moved
    aside until this one is complete), then its report; the exit status."""
    mission, aside = None, None
    made = started = False  # the run directory replaced (emptied and marked as a run's); the simulation begun
    try:
        from ground.report import report_steps, write_report  # a few seconds: a Ctrl-C then is one before set-up
        from onboard.sim.mission import Mission

        with simulation_bar(wanted(args.quiet), scenario.duration_h) as progress:
            # reads every input (a stage's constructor, the world's files) and writes nothing
            mission = Mission(scenario, run_dir, progress, realtime_factor=args.realtime, workers=workers)
            with signals_held(redeliver=True):  # an earlier run moved aside whole before a Ctrl-C is acted on
                aside = _prepare_run_dir(run_dir, args.overwrite)
                made = True
            _write_resolved(run_dir, scenario)
            started = True
            mission.run()
    # OSError: a full disk, a folder gone read-only; BrokenProcessPool: a frame-pool worker killed (out of memory)
    except (KeyboardInterrupt, OrbitEdgeError, OSError, BrokenProcessPool) as err:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if mission is not None and mission.finished:  # Ctrl-C as its last records were written: it is complete
            _say(discard_earlier(aside))
            return _report_interrupted(run_dir)
        if mission is not None and not made and isinstance(err, OrbitEdgeError):
            raise  # the earlier run could not be moved aside, or the folder made: that error says what it left
        return _stopped(err, run_dir, args, set_up=started, made=made, empty_before=empty_before, aside=aside)
    try:  # from here the run is complete: a Ctrl-C says so
        _say(discard_earlier(aside))
        release_simulation_memory()
        bound_heap()
        with ground_bar(wanted(args.quiet), report_steps()) as show:
            report, paths = write_report(run_dir, args.format, show)
    except KeyboardInterrupt:
        return _report_interrupted(run_dir)
    print_summary(report, paths, args)
    return 0


def _say(note: str | None) -> None:
    """A note on stderr, when there is one."""
    if note:
        print(f"orbitedge: note: {note}", file=sys.stderr)


def _report_interrupted(run_dir: Path) -> int:
    """Ctrl-C (or SIGTERM) once the run is complete, before its report is: say so, exit status 130."""
    print(f"orbitedge: interrupted before the report was written; the run is complete: `orbitedge report {run_dir}` "
          "writes it", file=sys.stderr)
    return 130


def _stopped(err: BaseException, run_dir: Path, args: argparse.Namespace, set_up: bool, made: bool,
             empty_before: bool, aside: Path | None = None) -> int:
    """What a run stopped before its end leaves, and its exit status (130 after Ctrl-C or SIGTERM, else 2): once the
    mission is set up, the partial report (marked incomplete), the earlier run it replaces kept ``aside``
    (:func:`app.run_setup.prepare_run_dir`) and said where; while it is set up (an input it could not read, a
    stage's constructor that raised, Ctrl-C), nothing was simulated, and ``run_dir`` is left as it was, an earlier
    run in it kept, or, ``made`` (replaced already), what the run made is removed (the ground made a report of
    nothing of it, "None (seed None)") and the earlier run put back."""
    if not set_up:
        back = False
        if made:
            unmake_run_dir(run_dir, keep_folder=empty_before)
            back = restore_earlier(aside, run_dir)
        elif not empty_before and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # made by this command, up front: an earlier run there is never touched
        left = f"nothing of it is left in {run_dir}" if made else f"nothing was written to {run_dir}"
        left += (", and the earlier run is back" if back else
                 f", and the earlier run is in {aside}" if aside is not None and aside.exists() else "")
        if isinstance(err, KeyboardInterrupt):
            print(f"orbitedge: interrupted before the simulation started; {left}", file=sys.stderr)
            return 130
        raise OrbitEdgeError(f"{_stop_reason(err, run_dir)}; nothing was simulated, and {left}") from None
    kept = (f"; the earlier run it replaces is kept in {aside} until a run there completes (to keep it instead: "
            f"rm -r {run_dir} && mv {aside} {run_dir})" if aside is not None and aside.exists() else "")
    print(f"orbitedge: {_stop_reason(err, run_dir)}; writing the partial report of {run_dir} (marked incomplete)"
          f"{kept}", file=sys.stderr)
    try:  # imported here: before set-up, a Ctrl-C in its import is what this handles
        from ground.report import write_report

        report, _ = write_report(run_dir, args.format)
    except KeyboardInterrupt:  # Ctrl-C (SIGTERM is ignored by now): what was simulated is kept, its report not whole
        print(f"orbitedge: interrupted while writing the partial report of {run_dir}; it is not whole: `orbitedge "
              f"report {run_dir}` writes it", file=sys.stderr)
        return 130
    except OSError as report_err:
        raise OrbitEdgeError(f"{run_dir}: the partial report could not be written ({io_error(report_err)}); "
                             f"make room, then `orbitedge report {run_dir}` writes it") from None
    if args.json:  # the partial run's summary, "complete": false
        print(json.dumps(run_summary(report), indent=2, sort_keys=True))
    return 130 if isinstance(err, KeyboardInterrupt) else 2


def _stop_reason(err: BaseException, run_dir: Path) -> str:
    """Why a run stopped before its end, in the words of the message that says so."""
    if isinstance(err, (KeyboardInterrupt, BrokenProcessPool)):
        return "interrupted" if isinstance(err, KeyboardInterrupt) else WORKER_DIED
    return io_error(err, run_dir) if isinstance(err, OSError) else str(err)


WORKER_DIED = ("a frame-pool worker process died (the system kills the largest process when memory runs out: "
               "fewer --workers, or --workers 0, need less)")


def print_summary(report: dict[str, Any], paths: list[Path], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(run_summary(report), indent=2, sort_keys=True))
        return
    if args.quiet:
        return
    for line in summary_lines(report):
        print(line)
    print(f"  {'report':<26} {' '.join(str(p) for p in paths if p.suffix in ('.md', '.html', '.json'))}")


def print_warnings(scenario: Any) -> None:
    """The scenario's warnings (``Scenario.warnings``: file, line, path, what and why) on stderr."""
    for text in scenario.warnings:
        print(f"orbitedge: warning: {text}", file=sys.stderr)
