"""``bilens.sweep``: a sweep in this process, or fanned out, one task per run, to an executor —
Ray, or any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, dask's
``client.get_executor()``).

Every task writes into the one output folder (shared by every worker's host), making its run
under the run's lock, so a run is made once and never redone once finished. A task whose worker
dies leaves its run unfinished (no ``run.json``) and its lock stale: Ray retries the task, and
the finishing call — the ordinary sweep, run here last — redoes whatever is still missing
before it writes the results table, the per-group analyses and the frontiers."""

from __future__ import annotations

import concurrent.futures
import os
import sys

from . import _bilens


def sweep(
    file,
    out,
    *,
    data=None,
    model=None,
    fresh=False,
    threads=None,
    log=None,
    shard=None,
    runs=None,
    executor=None,
):
    """Runs a sweep file (a grid of presets × overrides × seeds against one base model) into
    ``out``, resumably, as ``bilens sweep``; returns the results table, one dict per run."""
    options = {"data": data, "model": model, "fresh": fresh, "threads": threads}
    if executor is None:
        return _bilens.sweep(file, out, log=log, shard=shard, runs=runs, **options)
    if shard is not None or runs is not None:
        raise ValueError("executor= runs the whole sweep; shard= and runs= are one process's share of it")
    if executor != "ray" and not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(f'executor must be None, "ray" or a concurrent.futures.Executor, not {executor!r}')
    # Workers may start elsewhere: they get absolute paths.
    file, out = os.path.abspath(file), os.path.abspath(out)
    options = {k: os.path.abspath(v) if k in ("data", "model") and v is not None else v for k, v in options.items()}
    ids = _bilens.sweep_runs(file)
    _bilens.sweep(file, out, log=log, runs=[], **options)  # the base model, once, before fanning out
    if executor == "ray":
        failures = _on_ray(file, out, ids, options)
    else:
        failures = _on_executor(executor, file, out, ids, options)
    say = log or (lambda line: print(line, file=sys.stderr))
    for run_id, error in failures:
        say(f"  {run_id} failed in its worker ({error}); the finishing sweep redoes it")
    return _bilens.sweep(file, out, log=log, **options)


def sweep_run(file, out, run_id, options):
    """One run of a sweep (and its analyses): the task each worker is given."""
    _bilens.sweep(file, out, runs=[run_id], **options)


def _on_executor(executor, file, out, ids, options):
    futures = {executor.submit(sweep_run, file, out, run_id, options): run_id for run_id in ids}
    concurrent.futures.wait(futures)
    return [(run_id, f.exception()) for f, run_id in futures.items() if f.exception() is not None]


def _on_ray(file, out, ids, options):
    """One Ray task per run on the cluster ``ray.init()`` connects to (a local one unless Ray
    is already initialised); a task whose worker dies is retried."""
    try:
        import ray
    except ImportError as e:
        raise ImportError('executor="ray" needs Ray: pip install "bilens[ray]"') from e
    if not ray.is_initialized():
        ray.init()
    task = ray.remote(num_cpus=1, max_retries=3)(sweep_run)
    refs = [(task.remote(file, out, run_id, options), run_id) for run_id in ids]
    failures = []
    for ref, run_id in refs:
        try:
            ray.get(ref)
        except Exception as e:  # reported, then redone by the finishing sweep
            failures.append((run_id, e))
    return failures
