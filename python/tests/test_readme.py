"""The notebook example of python/README.md runs as written, in a fresh folder."""

import re

import pytest

from conftest import REPO


def test_the_readme_example_runs(tmp_path, monkeypatch):
    text = (REPO / "python" / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "python/README.md", "exec"), scope)
    result, f = scope["result"], scope["f"]
    assert scope["model"].interaction().cosine(**f) == pytest.approx(result.metrics["tensor_cosine"], rel=1e-6)
    assert scope["plus"].shape == (784,) and f["u"].shape == (784, 32)
    assert "<img" in result._repr_html_() and (tmp_path / "runs" / "python" / "run.json").is_file()
