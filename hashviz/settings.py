"""The app's settings as the process environment carries them (HASHVIZ_* variables): the models root,
the search backend, upload caps and the one cache folder the app writes to. `hashviz serve`
(hashviz.deployment) writes them; the app, the pretrained backbone's weight cache and the data roots
read them here, below everything that serves or discovers models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

FAISS, MILVUS = "faiss", "milvus"
MB = 1 << 20
ENV = {"demo": "HASHVIZ_DEMO", "models_root": "HASHVIZ_MODELS", "default_model": "HASHVIZ_DEFAULT_MODEL",
       "backend": "HASHVIZ_SEARCH_BACKEND", "milvus_uri": "HASHVIZ_MILVUS_URI", "cache_dir": "HASHVIZ_CACHE",
       "upload_max_bytes": "HASHVIZ_UPLOAD_MAX_BYTES", "upload_max_pixels": "HASHVIZ_UPLOAD_MAX_PIXELS"}
PROJECTION_CACHE_ENV = "HASHVIZ_PROJECTION_CACHE"   # hashviz.codemap's cache of UMAP maps


@dataclass(frozen=True)
class Deployment:
    demo: bool = False
    models_root: str = "models"
    default_model: str | None = None
    backend: str = FAISS
    milvus_uri: str | None = None
    cache_dir: str | None = None          # None: <models_root>/.cache
    upload_max_bytes: int = 10 * MB       # .streamlit/config.toml's maxUploadSize
    upload_max_pixels: int = 16_000_000   # hashviz.retrieval.upload.MAX_UPLOAD_PIXELS

    @classmethod
    def from_env(cls, env=None) -> "Deployment":
        """The settings of this process (os.environ); unset or malformed values take the defaults."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(ENV[f.name])
            if not raw:
                continue
            if f.name == "demo":
                values["demo"] = raw == "1"
            elif f.name.startswith("upload_"):
                if raw.isdigit() and int(raw) > 0:
                    values[f.name] = int(raw)
            else:
                values[f.name] = raw
        if values.get("backend") not in (None, FAISS, MILVUS):
            values.pop("backend")
        return cls(**values)

    def environment(self) -> dict[str, str]:
        """The HASHVIZ_* variables that make a Streamlit process run with these settings."""
        env = {ENV[f.name]: ("1" if v is True else str(v)) for f in fields(self)
               if (v := getattr(self, f.name)) not in (None, False)}
        env[PROJECTION_CACHE_ENV] = str(Path(self.cache) / "projections")
        return env

    def upload_caps(self) -> dict[str, int]:
        """decode_upload's keyword arguments for this server's caps."""
        return {"max_bytes": self.upload_max_bytes, "max_pixels": self.upload_max_pixels}

    @property
    def cache(self) -> str:
        """The one folder the app writes to (UMAP maps, the default Milvus Lite file)."""
        return self.cache_dir or str(Path(self.models_root) / ".cache")

    @property
    def default_milvus_uri(self) -> str:
        return self.milvus_uri or str(Path(self.cache) / "milvus.db")


def current_deployment() -> Deployment:
    return Deployment.from_env()
