"""Validation of written customer values, and the documented shapes of the API."""

from functools import cache

import idna
from django_countries import countries
from rest_framework import serializers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from claims.models import Customer


class CustomerValuesSerializer(serializers.ModelSerializer):
    """Validates flat {attribute: value} changes with the model's own field rules.

    Used only for values that already passed the write check; never for reading: what a
    token may see is decided by the policy core (`claims.policy`), not here.
    """

    # A plain string checked against the ISO list: DRF's ChoiceField would rebuild its ~250
    # choices on every request, the largest cost of a PATCH.
    country = serializers.CharField(max_length=2, allow_blank=True, required=False)

    class Meta:
        model = Customer
        fields = sorted(Customer.data_field_names())

    def validate_country(self, value: str) -> str:
        if value and value.upper() not in countries:
            raise serializers.ValidationError("Enter an ISO 3166-1 alpha-2 country code, e.g. 'DE'.")
        return value.upper()

    def validate_email(self, value: str) -> str:
        """The address with its domain in canonical form: lower case, international names as
        IDNA A-labels (`bücher.de` is `xn--bcher-kva.de`), which is what the documented
        `format: email` admits. A domain that is no valid IDNA name is refused."""
        if not value:
            return value
        local, _, domain = value.rpartition("@")
        try:
            return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
        except idna.IDNAError:
            raise serializers.ValidationError("Enter a valid email address.") from None

    def validate_iban(self, value: str) -> str:
        if not value:
            return value
        try:
            return str(IBAN(value).compact)
        except SchwiftyException:
            raise serializers.ValidationError("Enter a valid IBAN.") from None


@cache
def customer_values_rules(*, partial: bool) -> CustomerValuesSerializer:
    """The serializer whose `run_validation(values)` checks a create (`partial=False`) or an
    update (`partial=True`); built once per process.

    ModelSerializer rebuilds its fields from the model on every instance, which cost most of
    a PATCH. The fields hold no per-request state: validation depends only on the values and
    on `partial`, so one instance of each kind serves every request, with the same messages
    and the same error shape as a fresh serializer's `is_valid`. (A unique model field would
    change that, since its validator compares with the instance being updated; a test makes
    sure there is none.)
    """
    rules = CustomerValuesSerializer(partial=partial)
    rules.fields  # noqa: B018  (built now, once, rather than by the first request)
    return rules


MAX_UPDATE_RULES = 64
_update_rules: dict[frozenset[str], CustomerValuesSerializer] = {}


def _update_rules_of(written: frozenset[str]) -> CustomerValuesSerializer:
    """The update rules of the `written` fields alone, built once per set of fields.

    A partial validation skips a field without a value anyway, but only after trying it, an
    exception per field: a PATCH of one claim walked all eleven. The others are left out, as
    DRF documents for dynamic fields. Past MAX_UPDATE_RULES sets, the rules of every field
    answer (the same, more slowly): a writer varying its fields cannot make each PATCH build
    a serializer.
    """
    rules = _update_rules.get(written)
    if rules is None:
        if len(_update_rules) >= MAX_UPDATE_RULES:
            return customer_values_rules(partial=True)
        rules = CustomerValuesSerializer(partial=True)
        fields = rules.fields
        for name in set(fields) - written:
            fields.pop(name)
        _update_rules[written] = rules
    return rules


def customer_values_checked(values: dict[str, object], *, partial: bool) -> dict[str, object]:
    """`values` ({attribute: value}) checked by the model's field rules, for an update
    (`partial`) or a create; DRF's ValidationError keyed by attribute when some are wrong.
    Only attributes the serializer knows come back, so every key names a customer field."""
    if partial:
        rules = _update_rules_of(frozenset(values).intersection(CustomerValuesSerializer.Meta.fields))
    else:
        rules = customer_values_rules(partial=False)
    return dict(rules.run_validation(values))


# ------------------------------------------------------------------ documented shapes (OpenAPI)


class ProfileSchema(serializers.Serializer):
    name = serializers.CharField(required=False)
    email = serializers.EmailField(required=False)
    age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=150)


class AddressSchema(serializers.Serializer):
    street = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    postal_code = serializers.CharField(required=False)
    country = serializers.CharField(
        required=False, allow_null=True, help_text="ISO 3166-1 alpha-2 code, e.g. 'DE'; null when unknown."
    )


class BankingSchema(serializers.Serializer):
    iban = serializers.CharField(required=False)
    bank_name = serializers.CharField(required=False)
    credit_limit = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    annual_income = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class CustomerRecordSchema(serializers.Serializer):
    """A customer as a token sees it: only the claims it may read; empty categories absent."""

    id = serializers.IntegerField(read_only=True)
    profile = ProfileSchema(required=False)
    address = AddressSchema(required=False)
    banking = BankingSchema(required=False)


class CustomerWriteSchema(serializers.Serializer):
    """Claims to write, nested like a record; every one needs a write scope."""

    profile = ProfileSchema(required=False)
    address = AddressSchema(required=False)
    banking = BankingSchema(required=False)


class CustomerPageSchema(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CustomerRecordSchema(many=True)


class ErrorSchema(serializers.Serializer):
    error = serializers.CharField()
    error_description = serializers.CharField(required=False)


class ForbiddenClaimsSchema(ErrorSchema):
    forbidden_claims = serializers.ListField(child=serializers.CharField(), required=False)


class InvalidClaimsSchema(ErrorSchema):
    invalid_claims = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="What is wrong, per claim ('profile.email') or 'non_field_errors'; absent when the body "
        "is not JSON at all.",
    )
