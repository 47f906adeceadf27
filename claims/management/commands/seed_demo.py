"""`manage.py seed_demo`: load the deterministic demo customers; running it again adds nothing."""

from django.core.management.base import BaseCommand

from claims.services import customers_seed_demo


class Command(BaseCommand):
    help = "Load deterministic demo customers (idempotent: existing demo records are kept as they are)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=250, help="How many demo customers (default 250).")

    def handle(self, *args, count: int, **options) -> None:
        created = customers_seed_demo(count=count)
        self.stdout.write(f"demo customers: {created} created, {count - created} already present")
