"""The language an answer speaks, English or Vietnamese, chosen by the request's Accept-Language; codes never change.

English is the default (integrators' scripts read it). A client that prefers Vietnamese (the web page in
Vietnamese) gets the warnings' reasons and the meaning of its input errors in Vietnamese; an input error keeps
its specific English text in `detail`.
"""

from __future__ import annotations

from resolute.api.errors import ErrorCode

__all__ = ["DEFAULT", "LANGUAGES", "error_meaning", "language"]

LANGUAGES = ("en", "vi")
DEFAULT = "en"

_MEANING_VI = {
    ErrorCode.INVALID: "Giá trị không hợp lệ",
    ErrorCode.REQUIRED: "Không được để trống",
    ErrorCode.TOO_LONG: "Quá dài",
    ErrorCode.OUT_OF_RANGE: "Nằm ngoài phạm vi cho phép",
    ErrorCode.NOT_FOUND: "Không tìm thấy (hoặc bạn không được xem)",
    ErrorCode.FORBIDDEN: "Bạn không có quyền làm việc này",
    ErrorCode.DUPLICATE: "Đã có, không được trùng",
    ErrorCode.CYCLE: "Sẽ tạo thành vòng lặp",
    ErrorCode.CONFLICT: "Dữ liệu vừa được người khác thay đổi; hãy tải lại rồi làm lại",
    ErrorCode.ARCHIVED: "Đã lưu trữ, không thay đổi được",
    ErrorCode.HAS_CHILDREN: "Vẫn còn đơn vị trực thuộc",
    ErrorCode.WRONG_PASSWORD: "Sai mật khẩu",
    ErrorCode.INVALID_ID: "Mã định danh không hợp lệ",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "Khóa chống gửi trùng đã dùng cho một yêu cầu khác",
    ErrorCode.LIMIT_REACHED: "Đã đến giới hạn cho phép",
    ErrorCode.IN_FUTURE: "Không được là ngày trong tương lai",
}


def language(accept: str | None) -> str:
    """The first of LANGUAGES the header accepts, by its q-values (`vi-VN,vi;q=0.9,en;q=0.8` -> vi); else English."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def error_meaning(code: ErrorCode, message: str, lang: str) -> str:
    """What an input error says in `lang`: its own text in English, its code's meaning in Vietnamese."""
    return _MEANING_VI.get(code, message) if lang == "vi" else message
