"""A strict JSON parser: bounded depth, no duplicate keys, clean errors for any bad body."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DEPTH = 8


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ParseError("The JSON body repeats a key.")
    return dict(pairs)


def _depth(value: object, limit: int) -> int:
    if limit < 0:
        raise ParseError("The JSON body is nested too deeply.")
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


def _content_length(parser_context: dict | None) -> int:
    request = (parser_context or {}).get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        raise ParseError("Invalid Content-Length.") from None


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> object:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        announced = _content_length(parser_context)
        if announced > limit:
            raise RequestDataTooBig("body too large")  # refused before reading a byte of it
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestDataTooBig("body too large")
        if len(raw) < announced:
            # RFC 9112 §6.3: a body shorter than its Content-Length is incomplete.
            raise ParseError("The body is shorter than its Content-Length.")
        try:
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ParseError("The body is not valid UTF-8 JSON.") from None
        _depth(data, MAX_DEPTH)
        return data
