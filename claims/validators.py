"""Field validators for the policy names and the customer record."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

identifier_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}\Z",
    _("Use 1 to 40 lower-case letters, digits or underscores, starting with a letter."),
)

scope_name_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}:(read|write)\Z",
    _("A scope is named 'subject:read' or 'subject:write', e.g. 'profile:read'."),
)


def validate_iban(value: str) -> None:
    """An IBAN whose country format and ISO 7064 mod-97 checksum are both right."""
    try:
        IBAN(value)
    except SchwiftyException:
        # The message never repeats the value: validation errors reach API responses.
        raise ValidationError(_("Enter a valid IBAN."), code="invalid_iban") from None
