"""What long bilens calls show while they run: a tqdm bar (``tqdm.auto``: a widget in
notebooks, text in terminals) when tqdm is importable, nothing otherwise; log lines of sweeps
and studies on stderr. The extension module calls ``bar`` and ``log``; the bar's ``advance``
is driven from bilens's step callback at most ten times a second."""

from __future__ import annotations

import sys


class _Bar:
    """A tqdm bar advanced to absolute positions."""

    def __init__(self, tqdm_bar):
        self._bar = tqdm_bar

    def advance(self, done: int, message: str) -> None:
        self._bar.set_postfix_str(message, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def bar(total: int, description: str) -> _Bar | None:
    """A progress bar of ``total`` steps, or None when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return _Bar(tqdm(total=total, desc=description, unit="step", leave=False))


def log(line: str) -> None:
    """A log line of a sweep or a study, on stderr (the default of their ``log=``)."""
    print(line, file=sys.stderr, flush=True)
