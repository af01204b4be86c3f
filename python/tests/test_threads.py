"""Long calls let go of the interpreter: another Python thread keeps running while bilens works."""

import threading
import time

import bilens


def test_training_releases_the_interpreter(digits):
    seconds = {}

    def work():
        start = time.perf_counter()
        bilens.train(digits, epochs=4, n_hidden=64, threads=1, progress=False)
        seconds["train"] = time.perf_counter() - start

    worker = threading.Thread(target=work)
    worker.start()
    # The longest stretch this thread could not run: the whole call if bilens held the interpreter.
    longest, last = 0.0, time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    assert seconds["train"] > 0.2, "long enough to tell"
    assert longest < 0.25 * seconds["train"], f"this thread stood still for {longest:.3f} s of {seconds['train']:.3f} s"
