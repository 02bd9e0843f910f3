"""Shallow baselines: hashers learned in closed form (or by a few alternations) on raw pixels.

They read like scikit-learn estimators: `ITQ(bits=32, n_iter=50, seed=0).fit(X).encode(X)`.
Hyper-parameters are kept unchanged in `hyper`; what `fit` learns ends in `_`; `outputs` and
`encode` never learn. X is raw flattened pixels, float32 (n, d) (e.g. uint8 images reshaped and
cast): the per-pixel standardisation is learned state, so a saved hasher encodes raw pixels too.
"""

from __future__ import annotations

import numpy as np

from hashviz.codes import check_bits, pack_signs
from hashviz.errors import HashvizError
from hashviz.methods.registry import BoundToRow, merge_hyper

#: a pixel's scale is at least this fraction of the mean pixel scale: pixels that vary more than
#: average are standardised, quieter ones (a digit's empty border) are only centred and divided
#: by the mean scale, so near-constant pixels are never amplified into noise (or divided by 0).
MIN_RELATIVE_SCALE = 1.0


class ShallowHasher(BoundToRow):
    """Base of the shallow hashers: hyper-parameters, standardisation, state and sign encoding.

    A subclass names its registry row in its class statement (`class ITQ(ShallowHasher,
    method="itq")`, which gives it method_name and `defaults`, the hyper-parameter defaults; unknown
    keywords are refused) and sets `_fit(Xs)` (learn from standardised float32 data (n, d)),
    `_project(Xs)` (continuous outputs (n, bits)) and `_state_spec`: learned name -> shape, with
    "d" (input width), "bits", and the symbols of `_symbols(d)` standing for sizes.
    """

    method_name: str
    defaults: dict
    _state_spec: dict = {}
    #: whether fit divides each input by its scale (False: centred only; scale_ is then all ones)
    standardises: bool = True

    def __init__(self, bits: int, seed: int = 0, **hyper):
        self._hyper = merge_hyper(self.defaults, hyper)
        self.bits = check_bits(bits)
        self.seed = int(seed)

    @property
    def hyper(self) -> dict:
        """The hyper-parameters (seed excluded: config.json records it on its own)."""
        return dict(self._hyper)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items())
        return f"{type(self).__name__}(bits={self.bits}, seed={self.seed}{', ' + args if args else ''})"

    # ------------------------------------------------------------------ learning and encoding

    def fit(self, X: np.ndarray, y=None) -> "ShallowHasher":
        """Learn from raw pixels X (n, d); y is ignored. Returns self."""
        X = self._check_input(X)
        if len(X) < 2:
            raise HashvizError(f"{self.method_name} needs at least 2 training images, got {len(X)}")
        mean = X.mean(0, dtype=np.float64)
        centred = X - mean.astype(np.float32)
        std = np.sqrt(np.einsum("ij,ij->j", centred, centred, dtype=np.float64) / len(X))
        floor = MIN_RELATIVE_SCALE * std.mean() if std.mean() > 0 else 1.0
        self.mean_ = mean.astype(np.float32)
        self.scale_ = (np.maximum(std, floor) if self.standardises else np.ones_like(std)).astype(np.float32)
        self._fit(self._standardise(X))
        return self

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Continuous projections before the sign: float32 (n, bits)."""
        self._check_fitted()
        X = self._check_input(X, self.mean_.shape[0])
        return self._project(self._standardise(X)).astype(np.float32)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Packed codes uint8 (n, bits // 8): bit 1 where the output is > 0."""
        return pack_signs(self.outputs(X))

    def _fit(self, Xs: np.ndarray) -> None:
        raise NotImplementedError

    def _project(self, Xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def _check_input(self, X, d: int | None = None) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] == 0:
            raise HashvizError(f"expected a non-empty (n, d) array of pixels, got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.number) and not np.issubdtype(X.dtype, np.complexfloating)):
            raise HashvizError(f"expected numeric pixels, got dtype {X.dtype}")
        X = np.asarray(X.reshape(len(X), -1), dtype=np.float32)
        if d is not None and X.shape[1] != d:
            raise HashvizError(f"this {self.method_name} hasher was fitted on {d} features per image, "
                               f"got {X.shape[1]}")
        if not np.isfinite(X).all():
            raise HashvizError("pixels must be finite (found NaN or inf)")
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise HashvizError(f"this {self.method_name} hasher is not fitted: call fit(X) or "
                               "load_state_dict first")

    # ------------------------------------------------------------------ saving and loading

    def _symbols(self, d: int) -> dict[str, int]:
        """Sizes the state shapes are written in."""
        return {"d": d, "bits": self.bits}

    def state_shapes(self, n_features: int) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every learned array for inputs of n_features (no fitting needed)."""
        symbols = self._symbols(int(n_features))
        return {name: tuple(symbols[s] for s in spec) for name, spec in self._state_spec.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """All learned arrays (float32 or int64, contiguous) for safetensors."""
        self._check_fitted()
        return {name: np.ascontiguousarray(getattr(self, name)) for name in self._state_spec}

    def load_state_dict(self, state: dict) -> "ShallowHasher":
        """Restore learned state; HashvizError when names, dtypes or shapes do not fit."""
        names = set(state)
        if names != set(self._state_spec):
            missing, extra = set(self._state_spec) - names, names - set(self._state_spec)
            raise HashvizError(
                f"{self.method_name} state does not match: "
                f"missing {sorted(missing) or 'none'}, unexpected {sorted(extra) or 'none'}")
        mean = np.asarray(state["mean_"])
        if mean.ndim != 1:
            raise HashvizError(f"{self.method_name} state mean_ must be 1-D, got shape {mean.shape}")
        expected = self.state_shapes(mean.shape[0])
        loaded = {}
        for name, shape in expected.items():
            value = np.asarray(state[name])
            if value.shape != shape:
                raise HashvizError(f"{self.method_name} state {name} has shape {value.shape}, "
                                   f"expected {shape} for {self.bits} bits")
            if name in self._int_state:
                if not np.issubdtype(value.dtype, np.integer):
                    raise HashvizError(
                        f"{self.method_name} state {name} must be integer, got {value.dtype}")
                loaded[name] = value.astype(np.int64)
            else:
                if not np.issubdtype(value.dtype, np.floating) or not np.isfinite(value).all():
                    raise HashvizError(f"{self.method_name} state {name} must be finite floats")
                loaded[name] = value.astype(np.float32)
        if (loaded["scale_"] <= 0).any():
            raise HashvizError(f"{self.method_name} state scale_ must be positive")
        self._validate_state(loaded)
        for name, value in loaded.items():
            setattr(self, name, value)
        return self

    _int_state: tuple = ()

    def _validate_state(self, state: dict) -> None:
        """Subclass checks beyond shapes (raise HashvizError)."""


def _pca(Xs: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions of centred data, float32 (d, k), by decreasing variance.

    Each direction's sign is fixed (largest-magnitude loading positive) so fitting is reproducible.
    """
    cov = (Xs.T @ Xs).astype(np.float64) / len(Xs)
    values, vectors = np.linalg.eigh(cov)
    vectors = vectors[:, np.argsort(values, kind="stable")[::-1][:k]]
    signs = np.sign(vectors[np.abs(vectors).argmax(0), np.arange(k)])
    return (vectors * np.where(signs == 0, 1, signs)).astype(np.float32)


def _check_pca_bits(hasher: ShallowHasher, d: int) -> None:
    if hasher.bits > d:
        raise HashvizError(f"{hasher.method_name} takes one principal direction per bit: {hasher.bits} "
                           f"bits need at least {hasher.bits} features per image, got {d}")


class LSH(ShallowHasher, method="lsh"):
    """LSH, random-hyperplane locality-sensitive hashing (Charikar, STOC 2002).

    b = sign(W^T x) with W Gaussian (d, bits), on standardised pixels: the probability that a bit
    differs is the angle between two images over pi. Nothing is learned but the standardisation.
    """

    _state_spec = {"mean_": ("d",), "scale_": ("d",), "projection_": ("d", "bits")}

    def _fit(self, Xs):
        rng = np.random.default_rng(self.seed)
        self.projection_ = rng.standard_normal((Xs.shape[1], self.bits)).astype(np.float32)

    def _project(self, Xs):
        return Xs @ self.projection_


class PCAH(ShallowHasher, method="pcah"):
    """PCAH, PCA hashing (as the baseline of Wang, Kumar, Chang, TPAMI 2012).

    b = sign(P^T x) with P the top `bits` principal directions: each bit halves the data along
    one direction of large variance; later bits carry less variance and so less information.
    """

    _state_spec = {"mean_": ("d",), "scale_": ("d",), "components_": ("d", "bits")}

    def _fit(self, Xs):
        _check_pca_bits(self, Xs.shape[1])
        self.components_ = _pca(Xs, self.bits)

    def _project(self, Xs):
        return Xs @ self.components_


class ITQ(ShallowHasher, method="itq"):
    """ITQ, iterative quantization (Gong & Lazebnik, CVPR 2011).

    V = X P (PCA to `bits` dims); starting from a random orthogonal R, alternate n_iter times
    B = sign(V R) and R = U W^T from the SVD V^T B = U S W^T (orthogonal Procrustes), each step
    lowering the quantization loss ||B - V R||_F^2 / n, recorded in `quantization_loss_`
    (n_iter + 1 values: the initial rotation's, then after each alternation).
    """

    _state_spec = {"mean_": ("d",), "scale_": ("d",), "components_": ("d", "bits"),
                   "rotation_": ("bits", "bits"), "quantization_loss_": ("iters",)}

    def __init__(self, bits, seed=0, **hyper):
        super().__init__(bits, seed, **hyper)
        n_iter = self._hyper["n_iter"]
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
            raise HashvizError(f"itq n_iter must be a non-negative integer, got {n_iter!r}")

    def _symbols(self, d):
        return {**super()._symbols(d), "iters": int(self._hyper["n_iter"]) + 1}

    def _fit(self, Xs):
        _check_pca_bits(self, Xs.shape[1])
        self.components_ = _pca(Xs, self.bits)
        V = (Xs @ self.components_).astype(np.float64)
        rng = np.random.default_rng(self.seed)
        R, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        losses = [self._quantization_loss(V, R)]
        for _ in range(int(self._hyper["n_iter"])):
            B = np.where(V @ R > 0, 1.0, -1.0)
            U, _, Wt = np.linalg.svd(V.T @ B)
            R = U @ Wt
            losses.append(self._quantization_loss(V, R))
        self.rotation_ = R.astype(np.float32)
        self.quantization_loss_ = np.array(losses, dtype=np.float32)

    @staticmethod
    def _quantization_loss(V, R) -> float:
        VR = V @ R
        return float(((np.where(VR > 0, 1.0, -1.0) - VR) ** 2).sum() / len(V))

    def _project(self, Xs):
        return (Xs @ self.components_) @ self.rotation_


class SH(ShallowHasher, method="sh"):
    """SH, spectral hashing (Weiss, Torralba, Fergus, NIPS 2008).

    PCA to p = min(bits, d) dims; on the box [a_j, b_j] spanned by the training data along each
    direction j, the Laplacian eigenfunctions of a uniform density are
    phi_jk(x) = sin(pi/2 + k pi / (b_j - a_j) (x_j - a_j)), with eigenvalue growing with
    omega_jk = k pi / (b_j - a_j). The `bits` modes (j, k >= 1) of smallest omega are kept (ties:
    wider direction first, i.e. lower PCA index) and each bit is phi_jk(x) > 0. Bit 0 is always the
    lowest frequency (k = 1) of the widest direction.
    """

    _state_spec = {"mean_": ("d",), "scale_": ("d",), "components_": ("d", "p"),
                   "mins_": ("p",), "ranges_": ("p",), "mode_dims_": ("bits",),
                   "mode_freqs_": ("bits",)}
    _int_state = ("mode_dims_", "mode_freqs_")

    def _symbols(self, d):
        return {**super()._symbols(d), "p": min(self.bits, d)}

    def _fit(self, Xs):
        p = min(self.bits, Xs.shape[1])
        self.components_ = _pca(Xs, p)
        V = Xs @ self.components_
        eps = np.finfo(np.float32).eps
        lows, highs = V.min(0) - eps, V.max(0) + eps
        self.mins_ = lows.astype(np.float32)
        self.ranges_ = np.maximum(highs - lows, eps).astype(np.float32)
        # enough modes per direction that the `bits` smallest frequencies are all candidates
        max_k = np.ceil(self.bits * self.ranges_ / self.ranges_.max()).astype(np.int64) + 1
        dims = np.concatenate([np.full(m, j) for j, m in enumerate(max_k)])
        freqs = np.concatenate([np.arange(1, m + 1) for m in max_k])
        omega = freqs * np.pi / self.ranges_[dims].astype(np.float64)
        order = np.lexsort((freqs, -self.ranges_[dims], omega))[: self.bits]
        self.mode_dims_ = dims[order].astype(np.int64)
        self.mode_freqs_ = freqs[order].astype(np.int64)

    def _project(self, Xs):
        V = Xs @ self.components_
        j = self.mode_dims_
        omega = self.mode_freqs_ * np.pi / self.ranges_[j]
        return np.sin(np.pi / 2 + omega * (V[:, j] - self.mins_[j]))

    def _validate_state(self, state):
        p, dims = state["mins_"].shape[0], state["mode_dims_"]
        if ((dims < 0) | (dims >= p)).any() or (state["mode_freqs_"] < 1).any():
            raise HashvizError(f"sh state modes must index the {p} PCA directions with frequencies >= 1")
        if (state["ranges_"] <= 0).any():
            raise HashvizError("sh state ranges_ must be positive")


class PCARR(ShallowHasher, method="pca-rr"):
    """PCA-RR, the training-free baseline of Hashing-Baseline (arXiv 2509.14427): centre the
    inputs (pixels, or a frozen pretrained network's features), project on the top `bits`
    principal directions, rotate by a seeded random orthogonal matrix R (the Q of the QR
    decomposition of a standard Gaussian (bits, bits) matrix drawn with default_rng(seed)), sign.

    The rotation spreads the variance of the leading directions over all bits, so each bit
    carries some information, unlike PCAH's later bits; ITQ learns that rotation, PCA-RR draws it.
    Centred only (no per-input scaling): the features' own scales are the PCA's to weigh.
    """

    standardises = False
    _state_spec = {"mean_": ("d",), "scale_": ("d",), "components_": ("d", "bits"), "rotation_": ("bits", "bits")}

    def _fit(self, Xs):
        _check_pca_bits(self, Xs.shape[1])
        self.components_ = _pca(Xs, self.bits)
        rotation, _ = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((self.bits, self.bits)))
        self.rotation_ = rotation.astype(np.float32)

    def _project(self, Xs):
        return (Xs @ self.components_) @ self.rotation_
