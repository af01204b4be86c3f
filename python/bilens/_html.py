"""The notebook view of a decomposition (``Decomposition._repr_html_``): its key metrics and
the component figure bilens draws, embedded as a base64 PNG so the notebook stays
self-contained."""

from __future__ import annotations

import base64
import html

# The metrics a reader looks at first, in this order (all are in ``metrics``).
KEY_METRICS = (
    "tensor_cosine",
    "displayed_cosine",
    "residual_fraction",
    "test_accuracy",
    "test_accuracy_with_bias",
    "agreement",
    "logit_r2",
    "functional_cosine",
    "class_selectivity",
    "locality_7x7_weighted",
    "sign_purity_weighted",
    "explanation_size",
    "cancellation",
    "opposing_twins",
    "eigen_cosine_rank_matched",
    "displayed_components",
    "residual_components",
)


def _format(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def decomposition_html(result) -> str:
    """A table of the key metrics beside the component figure."""
    metrics = result.metrics
    rows = "".join(
        f"<tr><td><code>{name}</code></td><td style='text-align:right'>{_format(metrics.get(name))}</td></tr>"
        for name in KEY_METRICS
    )
    png = base64.b64encode(result.figure()).decode("ascii")
    title = html.escape(f"{result.preset}, seed {result.seed}")
    return (
        "<div class='bilens-decomposition'>"
        f"<p><b>{title}</b> ({result.seconds:.2f} s)</p>"
        "<div style='display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap'>"
        f"<table>{rows}</table>"
        f"<img src=\"data:image/png;base64,{png}\" alt=\"{title}: strongest components\" style='max-width:100%'>"
        "</div></div>"
    )
