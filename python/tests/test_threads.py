"""Long calls let go of the interpreter and stop on Ctrl-C.

Each test presses Ctrl-C (``_thread.interrupt_main``) from another Python thread as soon as the
bilens call has begun (a profile hook sees the call), on work far too long to finish first. The
press can only happen while bilens works if bilens released the interpreter, and the call can
only end early if bilens stopped its work; neither depends on how fast the machine is."""

import _thread
import signal
import sys
import threading
from pathlib import Path

import pytest

import bilens


def interrupted(call, *args, **kwargs) -> None:
    """Calls ``call(*args, **kwargs)`` on this (the main) thread while another thread presses
    Ctrl-C once the call has entered bilens's extension (``bilens._bilens``, which a Python-level
    wrapper such as ``bilens.sweep`` calls); fails unless the call raises ``KeyboardInterrupt``."""
    begun = threading.Event()
    native = getattr(bilens._bilens, call.__name__)

    def see_call(frame, event, arg):
        if event == "c_call" and arg is native:
            begun.set()

    def press():
        begun.wait()
        _thread.interrupt_main()

    # A shell starts background jobs with SIGINT ignored, and Python then has no Ctrl-C handler
    # for interrupt_main to run: the test installs Python's own for the call.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press, daemon=True)
    presser.start()
    sys.setprofile(see_call)
    try:
        with pytest.raises(KeyboardInterrupt):
            call(*args, **kwargs)
    finally:
        sys.setprofile(None)
        signal.signal(signal.SIGINT, previous)
    presser.join()


def finished_runs(folder: Path) -> list[Path]:
    """Stage folders that say they are finished (their ``run.json``, written last)."""
    return sorted(folder.rglob("run.json"))


def test_training_releases_the_interpreter_and_stops_on_ctrl_c(digits, tmp_path):
    # A thousand epochs: minutes on any machine, where the press lands within a tenth of a second.
    interrupted(bilens.train, digits, epochs=1000, n_hidden=64, threads=1, progress=False, out=tmp_path / "trained")
    assert finished_runs(tmp_path) == [], "an interrupted training leaves no finished folder"


def test_decompose_stops_on_ctrl_c(small_digit_model, progress):
    interrupted(bilens.decompose, small_digit_model, "provided_sparse", rank=8, steps=1_000_000)
    shown = progress.done()
    assert not shown or shown[-1] < 1_000_000, "stopped part-way"


def test_sweep_and_study_stop_on_ctrl_c(small_digit_model, tmp_path):
    file = tmp_path / "long.toml"
    file.write_text(f'model = "{small_digit_model}"\n[[grid]]\npresets = ["provided_sparse"]\nseeds = [0, 1]\nset = {{ rank = 8, steps = 1000000 }}\n')
    interrupted(bilens.sweep, file, tmp_path / "sweep", log=lambda line: None)
    assert finished_runs(tmp_path / "sweep" / "runs") == []
    interrupted(bilens.study, tmp_path / "study", epochs=1000, log=lambda line: None)
    assert finished_runs(tmp_path / "study") == []


def test_a_call_after_an_interrupted_one_runs_to_the_end(small_digit_model):
    interrupted(bilens.decompose, small_digit_model, rank=8, steps=1_000_000, progress=False)
    assert bilens.decompose(small_digit_model, rank=4, steps=3, progress=False).metrics["tensor_cosine"] > 0
