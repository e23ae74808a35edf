"""One error base class for the whole project; one handler renders it as JSON.

Each error carries an HTTP status, an English `detail` for developers and a Bahasa Indonesia
`detail_id` that the KPPS app or dashboard shows to its user as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SirekapError(Exception):
    """Something went wrong."""

    status_code: ClassVar[int] = 500
    detail_id_default: ClassVar[str] = "Terjadi kesalahan."

    def __init__(
        self,
        detail: str | None = None,
        detail_id: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        self.detail_id = detail_id or self.detail_id_default
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "detail": self.detail,
            "detail_id": self.detail_id,
            **self.extra,
        }


class BadRequest(SirekapError):
    """The request is malformed."""

    status_code = 400
    detail_id_default = "Permintaan tidak valid."


class Unauthorized(SirekapError):
    """Authentication is missing or invalid."""

    status_code = 401
    detail_id_default = "Autentikasi tidak ada atau tidak valid."


class Forbidden(SirekapError):
    """This identity may not do that here."""

    status_code = 403
    detail_id_default = "Anda tidak berwenang melakukan ini."


class NotFound(SirekapError):
    """No such thing."""

    status_code = 404
    detail_id_default = "Data tidak ditemukan."


class Conflict(SirekapError):
    """The state changed since you read it."""

    status_code = 409
    detail_id_default = "Data telah berubah; muat ulang lalu coba lagi."


class Gone(SirekapError):
    """That no longer exists."""

    status_code = 410
    detail_id_default = "Data sudah tidak tersedia."


class PayloadTooLarge(SirekapError):
    """The body is larger than allowed."""

    status_code = 413
    detail_id_default = "Berkas terlalu besar."


class UnsupportedMediaType(SirekapError):
    """The body is not of an accepted type."""

    status_code = 415
    detail_id_default = "Jenis berkas tidak didukung."


class Unprocessable(SirekapError):
    """The request is well-formed but its content is refused."""

    status_code = 422
    detail_id_default = "Isi permintaan ditolak."


class TooManyRequests(SirekapError):
    """Too many requests; retry later."""

    status_code = 429
    detail_id_default = "Terlalu banyak permintaan; coba lagi nanti."


class ServiceUnavailable(SirekapError):
    """A dependency is unavailable; retry later."""

    status_code = 503
    detail_id_default = "Layanan sedang tidak tersedia; coba lagi sebentar lagi."
