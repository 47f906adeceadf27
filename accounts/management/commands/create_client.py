"""`manage.py create_client`: create a client_credentials client and print its credentials once."""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.exceptions import RoleNotFound
from accounts.services import client_create, role_get_by_name
from claims.selectors import policy_get


class Command(BaseCommand):
    help = (
        "Create a confidential client for the client_credentials grant and print one JSON object "
        "with client_id, client_secret, api_key, role and scopes. The secret and the API key are "
        "shown this once and stored only hashed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="A name for the client, shown to officers.")
        parser.add_argument("--role", required=True, help="The role whose scopes the client's tokens get.")
        parser.add_argument("--no-api-key", action="store_true", help="Create the client without an API key.")
        parser.add_argument(
            "--resource-server", action="store_true", help="Allow the client to introspect tokens."
        )

    def handle(self, *args, name: str, role: str, no_api_key: bool, resource_server: bool, **options) -> None:
        try:
            role_obj = role_get_by_name(name=role)
        except RoleNotFound as exc:
            raise CommandError(str(exc)) from None
        issued = client_create(
            name=name, role=role_obj, with_api_key=not no_api_key, is_resource_server=resource_server
        )
        output = {
            "client_id": issued.client.client_id,
            "client_secret": issued.client_secret,
            "api_key": issued.api_key,
            "role": role_obj.name,
            "scopes": sorted(policy_get().role_scopes(role_obj.name)),
        }
        self.stdout.write(json.dumps(output))
