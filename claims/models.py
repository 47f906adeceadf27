"""The claim policy (categories, claims, scopes) and the customer record it protects."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from claims.validators import identifier_validator, scope_name_validator, validate_iban


class ClaimCategory(models.Model):
    """A group of claims that the API nests together, e.g. `profile` or `banking`."""

    name = models.CharField(
        max_length=40,
        unique=True,
        validators=[identifier_validator],
        help_text=_("Key of this group in records and token responses, e.g. 'profile'."),
    )
    description = models.CharField(max_length=200, blank=True, help_text=_("What this group holds."))

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("claim categories")

    def __str__(self) -> str:
        return self.name


class Claim(models.Model):
    """One attribute of a customer record, reachable through the scopes that cover it."""

    category = models.ForeignKey(
        ClaimCategory,
        on_delete=models.PROTECT,
        related_name="claims",
        help_text=_("The group this claim is shown under."),
    )
    name = models.CharField(
        max_length=40,
        validators=[identifier_validator],
        help_text=_("Key of this claim inside its category, e.g. 'email'."),
    )
    attribute = models.CharField(
        max_length=40,
        unique=True,
        validators=[identifier_validator],
        help_text=_("The customer record's field that holds this claim's value."),
    )
    description = models.CharField(max_length=200, blank=True, help_text=_("What this claim is."))

    class Meta:
        ordering = ["category__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "name"], name="claim_unique_name_per_category"),
        ]

    def __str__(self) -> str:
        return self.qualified_name

    def clean(self) -> None:
        if self.attribute and self.attribute not in Customer.data_field_names():
            raise ValidationError(
                {"attribute": _("The customer record has no field '%(name)s'.") % {"name": self.attribute}}
            )

    @property
    def qualified_name(self) -> str:
        """The claim as the API and the policy name it: 'category.name'."""
        return f"{self.category.name}.{self.name}"


class Scope(models.Model):
    """An OAuth scope: read or write access to a set of claims."""

    class Access(models.TextChoices):
        READ = "read", _("read")
        WRITE = "write", _("write")

    name = models.CharField(
        max_length=50,
        unique=True,
        validators=[scope_name_validator],
        help_text=_("The scope as clients request it; ends in ':read' or ':write', which sets its access."),
    )
    description = models.CharField(max_length=200, blank=True, help_text=_("What this scope is for."))
    claims = models.ManyToManyField(
        Claim,
        related_name="scopes",
        blank=True,
        help_text=_("The claims this scope lets a token read or write."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def access(self) -> str:
        """Read or write, from the name's suffix, so the two can never disagree."""
        return self.name.rpartition(":")[2]


class Customer(models.Model):
    """A customer record: every data field is one claim (see `claims.checks`)."""

    # Fields that are bookkeeping, not customer data: they are never claims.
    BOOKKEEPING_FIELDS = frozenset({"id", "version", "created_at", "updated_at"})

    # profile
    name = models.CharField(max_length=200)
    email = models.EmailField()
    age = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(150)])
    # address
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField(blank=True)
    # banking
    iban = models.CharField(max_length=34, blank=True, validators=[validate_iban])
    bank_name = models.CharField(max_length=200, blank=True)
    credit_limit = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    annual_income = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )

    # Bumped on every write; the API's ETag, so concurrent writers cannot lose an update.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Customer #{self.pk}"

    @classmethod
    def data_field_names(cls) -> frozenset[str]:
        """The fields that hold customer data, each of which must be a claim."""
        return frozenset(f.name for f in cls._meta.concrete_fields if f.name not in cls.BOOKKEEPING_FIELDS)


class PolicyRevision(models.Model):
    """A single row whose tag changes with every policy change.

    Each process caches the policy it built together with this tag, and reads the tag (one
    primary-key lookup) on every request: a change committed on any node is seen by the next
    request on every node, with or without a shared cache. The tag is random rather than a
    counter so that a rolled-back change can never leave a cache entry whose tag comes back.
    """

    tag = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"policy revision {self.tag}"
