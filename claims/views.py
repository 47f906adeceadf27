"""The customer-data API: authenticate, check, fetch, ask the policy core, format."""

import base64
import binascii
from collections.abc import Mapping

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, QueryDict
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from claims.authentication import Caller, caller_from_database
from claims.cycle_free_view import CycleFreeAPIView
from claims.exceptions import (
    InsufficientScope,
    InvalidClaims,
    InvalidParameter,
    PreconditionFailed,
)
from claims.models import Customer
from claims.policy import forbidden_writes, visible_fields
from claims.records import (
    Layout,
    attributes_of,
    claim_of_attribute,
    layout_attributes,
    payload_problems,
    record_layout,
    record_of,
    stored_values,
)
from claims.renderers import api_response
from claims.selectors import (
    MAX_ID,
    SortKey,
    customer_count,
    customer_from_rows,
    customer_get,
    customer_get_statement,
    customer_page,
    customer_sort_values,
)
from claims.serializers import (
    CustomerPageSchema,
    CustomerRecordSchema,
    CustomerWriteSchema,
    ErrorSchema,
    ForbiddenClaimsSchema,
    InvalidClaimsSchema,
)
from claims.services import VersionConflict, customer_create, customer_delete, customer_update
from tokensvc.rows import Statement

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 100
TEXT_FIELDS = ("CharField", "EmailField")

ERRORS = {
    401: OpenApiResponse(ErrorSchema, description="No token, or an invalid, expired or revoked one."),
    403: OpenApiResponse(ForbiddenClaimsSchema, description="The token's scopes do not allow this."),
    406: OpenApiResponse(ErrorSchema, description="The Accept header admits no JSON."),
}
WRITE_ERRORS = {
    **ERRORS,
    400: OpenApiResponse(InvalidClaimsSchema, description="Unknown claims or invalid values."),
    412: OpenApiResponse(ErrorSchema, description="If-Match names an outdated version."),
    413: OpenApiResponse(ErrorSchema, description="Body too large."),
    415: OpenApiResponse(ErrorSchema, description="Body is not JSON."),
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The record's ETag, to refuse stale writes.",
)


def visible_layout(caller: Caller) -> Layout:
    """Where the values of the records this caller sees come from: the readable claims' layout,
    filtered by the policy core (`visible_fields`, the one engine every response goes
    through). Worked out once per policy and grant, not once per request."""
    grant, policy = caller.grant, caller.policy
    return policy.remembered(
        ("visible layout", grant), lambda: visible_fields(record_layout(grant.readable, policy), grant)
    )


def present_page(rows: list[Mapping[str, object]], layout: Layout) -> list[dict]:
    """Rows as the caller whose `visible_layout` this is may see them (the layout is already
    filtered by the policy core: nothing is filtered here)."""
    return [{"id": row["id"], **record_of(row, layout)} for row in rows]


def present(row: Mapping[str, object], caller: Caller) -> dict:
    """A row as this caller may see it."""
    return present_page([row], visible_layout(caller))[0]


def ascii_digits(value: str) -> bool:
    """Whether `value` is a whole number written in 0-9 (str.isdigit() also takes '³', which int()
    refuses, and int() takes other scripts' digits)."""
    return value.isascii() and value.isdigit()


def etag(customer: Customer) -> str:
    return f'"{customer.version}"'


def expected_version(request: Request) -> int | None:
    """The version an If-Match header names; None when absent or '*'."""
    # From the WSGI environ: `request.headers` would build a dict of every header first.
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip('"')
    if not ascii_digits(value) or len(value) > 18:
        raise PreconditionFailed("If-Match does not name a version of this record.")
    return int(value)


def checked_write(request: Request, caller: Caller) -> dict[str, object]:
    """The body as {attribute: value}, once its shape and the token's write grant allow it."""
    payload = request.data
    problems = payload_problems(payload, caller.policy)
    if problems:
        raise InvalidClaims(problems.errors)
    if not any(payload.values()):
        raise InvalidClaims({"non_field_errors": ["The body names no claim to write."]})
    forbidden = forbidden_writes(payload, caller.grant)
    if forbidden:
        raise InsufficientScope("The token may not write some of these claims.", forbidden)
    return attributes_of(payload, caller.policy)


def as_claim_errors(error: exceptions.ValidationError, caller: Caller) -> InvalidClaims:
    """Model validation errors, keyed by attribute, in the API's claim names."""
    claims = claim_of_attribute(caller.policy)
    return InvalidClaims(
        {claims.get(key, key): [str(m) for m in messages] for key, messages in error.detail.items()}
    )


def ordering(request: Request, caller: Caller) -> list[str]:
    """`?ordering=profile.name,-address.city` as model fields; unreadable claims are refused."""
    fields = []
    for item in filter(None, request.query_params.get("ordering", "").split(",")):
        descending, claim = item.startswith("-"), item.strip().lstrip("-")
        if claim == "id":
            attribute = "id"
        elif claim in caller.grant.readable and claim in caller.policy.attributes:
            attribute = caller.policy.attributes[claim]
        else:
            raise InvalidParameter(f"Cannot order by '{claim[:60]}': not a claim this token may read.")
        fields.append(f"-{attribute}" if descending else attribute)
    return fields


def searchable_attributes(caller: Caller) -> list[str]:
    """Text attributes behind the readable claims: search never looks at anything else."""
    attributes = []
    for claim in sorted(caller.grant.readable):
        attribute = caller.policy.attributes.get(claim)
        if attribute and Customer._meta.get_field(attribute).get_internal_type() in TEXT_FIELDS:
            attributes.append(attribute)
    return attributes


def sort_keys(request: Request, caller: Caller) -> list[SortKey]:
    """The requested order as (attribute, descending) pairs, always ending with the id, which
    makes every position in it unique (what a cursor needs)."""
    keys: list[SortKey] = []
    for item in ordering(request, caller):
        keys.append((item.lstrip("-"), item.startswith("-")))
        if keys[-1][0] == "id":
            return keys  # anything after a unique key changes nothing
    return [*keys, ("id", False)]


def whole_number(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not ascii_digits(raw) or len(raw) > 12 or not 1 <= int(raw) <= maximum:
        raise InvalidParameter(f"'{name}' must be a whole number from 1 to {maximum}.")
    return int(raw)


def cursor_encode(direction: str, customer_id: int) -> str:
    """An opaque cursor: the page starts right after, or ends right before, this customer."""
    return base64.urlsafe_b64encode(orjson.dumps({direction: customer_id})).decode().rstrip("=")


def cursor_decode(raw: str) -> tuple[str, int]:
    """('after' or 'before', customer id) from a cursor this API gave; 400 for anything else."""
    invalid = InvalidParameter("'cursor' must be one this API gave in a 'next' or 'previous' link.")
    if len(raw) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(data, dict) or len(data) != 1:
        raise invalid
    ((direction, customer_id),) = data.items()
    if direction not in ("after", "before") or type(customer_id) is not int or not 0 < customer_id <= MAX_ID:
        raise invalid
    return direction, customer_id


class CustomerListView(CycleFreeAPIView):
    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        description="Paginated. `search` looks only at text claims the token may read; `ordering` "
        "takes claims the token may read ('profile.name', '-address.city') or 'id'. `next` and "
        "`previous` are links with a `cursor`: following them costs the same at any depth. `page` "
        "jumps to a page by number, which costs more the deeper the page in a large table.",
        parameters=[
            OpenApiParameter("search", str, description="Case-insensitive text to find in readable claims."),
            OpenApiParameter(
                "ordering", str, description="Comma-separated readable claims, '-' for descending."
            ),
            OpenApiParameter(
                "cursor",
                str,
                description="Opaque position from a `next` or `previous` link; not with `page`.",
            ),
            OpenApiParameter("page", int, description="Page number (1 when absent); not with `cursor`."),
            OpenApiParameter(
                "page_size", int, description=f"1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."
            ),
        ],
        responses={
            200: CustomerPageSchema,
            400: ErrorSchema,
            404: OpenApiResponse(
                ErrorSchema, description="No such page, or the customer a cursor starts from is gone."
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        caller: Caller = request.auth
        page_size = whole_number(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        cursor = request.query_params.get("cursor")
        if cursor is not None and "page" in request.query_params:
            raise InvalidParameter("Use either 'page' or 'cursor', not both.")
        page_number = whole_number(request, "page", 1, 10**9)
        search = request.query_params.get("search", "").strip()[:200]
        if "\x00" in search:
            raise InvalidParameter("'search' must not contain NUL characters.")
        keys = sort_keys(request, caller)
        searched = {"search": search, "search_attributes": searchable_attributes(caller)}
        layout = visible_layout(caller)
        columns = layout_attributes(layout)
        after = before = None
        if cursor is not None:
            direction, anchor_id = cursor_decode(cursor)
            anchor = customer_sort_values(customer_id=anchor_id, keys=keys)
            if anchor is None:
                raise exceptions.NotFound("The customer this cursor starts from is gone; start again.")
            after, before = (anchor, None) if direction == "after" else (None, anchor)
        # One row more than the page tells whether there is another page beyond it.
        rows = customer_page(
            **searched,
            keys=keys,
            columns=columns,
            after=after,
            before=before,
            offset=(page_number - 1) * page_size,
            limit=page_size + 1,
        )
        more = len(rows) > page_size
        if before is not None:
            rows, has_previous, has_next = rows[1:] if more else rows, more, True
        else:
            rows, has_previous, has_next = rows[:page_size], after is not None or page_number > 1, more
        if not rows and page_number > 1:
            raise exceptions.NotFound("There is no such page.")
        return api_response(
            {
                "count": customer_count(**searched),
                "next": self._link(request, "after", rows[-1]["id"]) if has_next and rows else None,
                "previous": self._link(request, "before", rows[0]["id"]) if has_previous and rows else None,
                "results": present_page(rows, layout),
            }
        )

    @staticmethod
    def _link(request: Request, direction: str, customer_id: int) -> str:
        # A shallow copy: QueryDict.copy() deep-copies every key and value, all of them strings.
        query = QueryDict(mutable=True, encoding=request.query_params.encoding)
        for key, values in request.query_params.lists():
            if key != "page":
                query.setlist(key, values)
        query["cursor"] = cursor_encode(direction, customer_id)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    @extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        description="Every claim sent needs a write scope; profile.name and profile.email are required.",
        request=CustomerWriteSchema,
        responses={201: CustomerRecordSchema, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        caller: Caller = request.auth
        values = checked_write(request, caller)
        try:
            customer = customer_create(values=values)
        except exceptions.ValidationError as error:
            raise as_claim_errors(error, caller) from None
        url = reverse("customer-detail", kwargs={"customer_id": customer.pk})
        return api_response(
            present(stored_values(customer), caller),
            status=status.HTTP_201_CREATED,
            headers={"Location": url, "ETag": etag(customer)},
        )


class CustomerDetailView(CycleFreeAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @staticmethod
    def read_along_with_token(request: Request, customer_id: int) -> Statement | None:
        """A read needs the row whatever the token grants: it comes with the token's lookup."""
        return customer_get_statement(customer_id=customer_id) if request.method in ("GET", "HEAD") else None

    @staticmethod
    def _customer(customer_id: int, along: tuple[tuple, ...] | None = None) -> Customer:
        customer = customer_from_rows(along) if along is not None else customer_get(customer_id=customer_id)
        if customer is None:
            raise exceptions.NotFound("No customer with this id.")
        return customer

    @extend_schema(
        summary="Read a customer", responses={200: CustomerRecordSchema, 404: ErrorSchema, **ERRORS}
    )
    def get(self, request: Request, customer_id: int) -> HttpResponse:
        customer = self._customer(customer_id, request.auth.along)
        return api_response(present(stored_values(customer), request.auth), headers={"ETag": etag(customer)})

    @extend_schema(
        operation_id="customers_update",
        summary="Change claims of a customer",
        description="Nested like a record. Any claim without write access makes the whole request "
        "403 with `forbidden_claims`; nothing changes on any error.",
        request=CustomerWriteSchema,
        parameters=[IF_MATCH],
        responses={200: CustomerRecordSchema, 404: ErrorSchema, **WRITE_ERRORS},
    )
    def patch(self, request: Request, customer_id: int) -> HttpResponse:
        caller: Caller = request.auth
        unreadable_body = None
        if caller.unconfirmed is not None:
            customer, unreadable_body = self._update_on_kept_token(request, caller, customer_id)
            if customer is not None:
                return self._updated(customer, caller)
            caller = caller_from_database(request)
            self.check_permissions(request)
        if not 0 < customer_id <= MAX_ID:
            raise exceptions.NotFound("No customer with this id.")
        # The record is not read first: the write is one UPDATE that returns the row. Only a
        # refused request looks the record up, so that a missing one is a 404 whatever else is
        # wrong, as if it had been read first.
        try:
            if unreadable_body is not None:
                # DRF parses a body once (read again, it would be empty): its error stands.
                raise unreadable_body
            customer = self._update(request, caller, customer_id)
        except (exceptions.APIException, RequestDataTooBig):
            unreadable_body = None  # held by this frame, which the error's traceback holds
            self._customer(customer_id)
            raise
        return self._updated(customer, caller)

    @staticmethod
    def decides_on_kept_token(request: Request) -> bool:
        """A PATCH may be decided on its token's row kept from an earlier one: its UPDATE checks
        that row (tokensvc.kept_tokens), which spares it a statement of its own."""
        return request.method == "PATCH"

    def _update_on_kept_token(
        self, request: Request, caller: Caller, customer_id: int
    ) -> tuple[Customer | None, Exception | None]:
        """The customer as written on the word of the caller's kept token row, if its UPDATE
        found that row unchanged. Otherwise None, and nothing written: only a success comes
        from a kept row, a refusal is decided from the database. With it, the error of a body
        that could not be read, which no token changes."""
        if not 0 < customer_id <= MAX_ID:
            return None, None
        try:
            return self._update(request, caller, customer_id), None
        except (exceptions.ParseError, exceptions.UnsupportedMediaType, RequestDataTooBig) as error:
            return None, error
        except exceptions.APIException:
            return None, None

    @staticmethod
    def _updated(customer: Customer, caller: Caller) -> HttpResponse:
        return api_response(present(stored_values(customer), caller), headers={"ETag": etag(customer)})

    @staticmethod
    def _update(request: Request, caller: Caller, customer_id: int) -> Customer:
        version = expected_version(request)
        values = checked_write(request, caller)
        try:
            return customer_update(
                customer_id=customer_id, values=values, expected_version=version, condition=caller.unconfirmed
            )
        except exceptions.ValidationError as error:
            raise as_claim_errors(error, caller) from None
        except VersionConflict:
            raise PreconditionFailed from None

    @extend_schema(
        operation_id="customers_delete",
        summary="Delete a customer",
        description="Needs write access to every claim.",
        parameters=[IF_MATCH],
        responses={204: None, 404: ErrorSchema, 412: ErrorSchema, **ERRORS},
    )
    def delete(self, request: Request, customer_id: int) -> Response:
        caller: Caller = request.auth
        customer = self._customer(customer_id)
        version = expected_version(request)
        forbidden = sorted(set(caller.policy.attributes) - caller.grant.writable)
        if forbidden:
            raise InsufficientScope("Deleting a customer needs write access to every claim.", forbidden)
        try:
            customer_delete(customer=customer, expected_version=version)
        except VersionConflict:
            raise PreconditionFailed from None
        return Response(status=status.HTTP_204_NO_CONTENT)
