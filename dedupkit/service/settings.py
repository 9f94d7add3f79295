"""The service's settings: keyword arguments, else ``DEDUPKIT_*`` environment variables, else defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..codejoin import check_max_distance
from ..hashing import METHODS, check_method

__all__ = ["Settings"]


class Settings(BaseSettings):
    """How one ``dedupkit serve`` process stores, hashes and guards images.

    Every field can be set by an environment variable named ``DEDUPKIT_`` plus
    the field name in capitals (``DEDUPKIT_DB``, ``DEDUPKIT_MAX_DISTANCE``,
    ``DEDUPKIT_TOKEN``, ...); keyword arguments win over the environment.

    Raises
    ------
    pydantic.ValidationError
        A value of the wrong kind, an unknown method or hash size, or a
        ``max_distance`` longer than the hash.
    """

    model_config = SettingsConfigDict(env_prefix="DEDUPKIT_", frozen=True, extra="ignore")

    db: Path = Field(Path("dedupkit.db"), description="SQLite database file (created if missing)")
    method: str = Field("dhash", description=f"hash method, one of {', '.join(METHODS)}")
    hash_size: int = Field(8, description="8 for 64-bit hashes, 16 for 256-bit")
    max_distance: int = Field(10, description="default Hamming threshold for a near-duplicate, inclusive")
    max_matches: int = Field(100, ge=1, description="most matches listed per image")
    token: SecretStr | None = Field(None, description="bearer token required by every endpoint but /health")
    max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1, description="largest request body, all files together")
    max_pixels: int = Field(50_000_000, ge=1, description="largest image (width x height) decoded")
    store_features: bool = Field(True, description="keep each added image's local features (about 60 kB) so that "
                                                   "POST /search?verify=true can check it")

    @field_validator("token")
    @classmethod
    def _empty_token_is_none(cls, token: SecretStr | None) -> SecretStr | None:
        return token if token is not None and token.get_secret_value() else None

    @model_validator(mode="after")
    def _check_hashing(self) -> Settings:
        check_method(self.method, self.hash_size)
        check_max_distance(self.max_distance, self.n_bits)
        return self

    @property
    def n_bits(self) -> int:
        """Bits per hash."""
        return self.hash_size * self.hash_size
