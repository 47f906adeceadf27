"""`manage.py create_officer USERNAME`: a staff account in the "Security officers" group."""

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import officer_create

PASSWORD_VARIABLE = "OFFICER_PASSWORD"  # noqa: S105  (the name of a variable)


class Command(BaseCommand):
    help = (
        "Create a security officer: staff, not superuser, in the 'Security officers' group. The "
        f"password comes from ${PASSWORD_VARIABLE} or, when unset, from a prompt."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, email: str, **options) -> None:
        password = os.environ.get(PASSWORD_VARIABLE) or self._prompt()
        try:
            validate_password(password)
            officer_create(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"security officer {username!r} created")

    def _prompt(self) -> str:
        if not os.isatty(0):
            raise CommandError(f"no terminal to ask for a password: set {PASSWORD_VARIABLE}")
        first, second = getpass.getpass("Password: "), getpass.getpass("Password (again): ")
        if first != second:
            raise CommandError("the passwords differ")
        return first
