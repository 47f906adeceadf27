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


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> object:
        # DRF's request stream honours DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig -> 413).
        raw = stream.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) if stream is not None else b""
        if len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestDataTooBig("body too large")
        try:
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ParseError("The body is not valid UTF-8 JSON.") from None
        _depth(data, MAX_DEPTH)
        return data
