"""Database work of the benchmark that the product's commands do not offer, run by bench/run.py.

`python -m bench.dataset COMMAND` from the project root, with the same environment as the server.
Every command prints one JSON object on stdout. Nothing here is used by the product.

    info                   customer count and id range
    customers --target N   add fast synthetic customers until there are N
    big-policy             add a large synthetic policy (categories, claims, scopes, roles)
    drop-big-policy        remove it again (and the clients holding its roles)
    drop-clients --prefix  remove the benchmark's clients, their tokens and API keys
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator

BIG_PREFIX = "bench_"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def customer_info() -> dict:
    from django.db.models import Count, Max, Min

    from claims.models import Customer

    stats = Customer.objects.aggregate(count=Count("id"), min_id=Min("id"), max_id=Max("id"))
    count, low, high = stats["count"], stats["min_id"], stats["max_id"]
    return {
        "count": count,
        "min_id": low,
        "max_id": high,
        # When the ids have no holes, the load generator may pick any id in the range.
        "contiguous": bool(count) and high - low + 1 == count,
    }


def _rows(start: int, how_many: int, columns: list, pool: list[dict]) -> Iterator[tuple]:
    """Customer rows numbered from `start`: demo values from a small pool, unique e-mails."""
    for number in range(start, start + how_many):
        base = pool[number % len(pool)]
        yield tuple(
            f"growth{number:08d}@example.com" if field.attname == "email" else base[field.attname]
            for field in columns
        )


def customers_top_up(target: int) -> dict:
    """Insert synthetic customers (raw SQL, COPY on PostgreSQL) until the table holds `target`."""
    from django.db import connection, transaction
    from django.db.models import Max
    from django.utils import timezone

    from claims.demo_data import demo_customers
    from claims.models import Customer

    started = time.monotonic()
    missing = target - Customer.objects.count()
    if missing <= 0:
        return {**customer_info(), "inserted": 0, "seconds": 0.0}
    columns = [field for field in Customer._meta.concrete_fields if field.attname != "id"]
    now = timezone.now()
    # A valid record per pool entry (valid IBANs are slow to make), prepared for the database once.
    pool = []
    for record in demo_customers(1000, seed=7):
        values = {**record, "version": 1, "created_at": now, "updated_at": now}
        pool.append({f.attname: f.get_db_prep_save(values[f.attname], connection) for f in columns})
    table = connection.ops.quote_name(Customer._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    first = (Customer.objects.aggregate(Max("id"))["id__max"] or 0) + 1  # unique e-mails across top-ups
    rows = _rows(first, missing, columns, pool)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608  (names from the model)
            batch: list[tuple] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    return {**customer_info(), "inserted": missing, "seconds": round(time.monotonic() - started, 1)}


def big_policy_create(*, roles: int, scopes: int, claims: int, categories: int) -> dict:
    """A synthetic policy of the given size, bulk-inserted, then the revision bumped once.

    `scopes` is split into read/write pairs over `scopes // 2` subjects, each covering an equal
    slice of the claims. Role 0 holds every scope (the worst case for a token); role k > 0
    holds the read and write scopes of half the subjects, starting at a different one each.
    The claims' attributes are not customer fields: never read customers with these roles.
    """
    from django.db import transaction

    from accounts.models import Role
    from claims.models import Claim, ClaimCategory, Scope
    from claims.signals import policy_changed

    started = time.monotonic()
    subjects = max(scopes // 2, 1)
    per_category = -(-claims // categories)
    per_subject = -(-claims // subjects)
    with transaction.atomic():
        category_rows = ClaimCategory.objects.bulk_create(
            ClaimCategory(name=f"{BIG_PREFIX}cat_{c:03d}", description="benchmark") for c in range(categories)
        )
        claim_rows = Claim.objects.bulk_create(
            (
                Claim(
                    category=category_rows[i // per_category],
                    name=f"c{i:05d}",
                    attribute=f"{BIG_PREFIX}attr_{i:05d}",
                )
                for i in range(claims)
            ),
            batch_size=500,
        )
        scope_rows = Scope.objects.bulk_create(
            Scope(name=f"{BIG_PREFIX}s{j:04d}:{access}", description="benchmark")
            for j in range(subjects)
            for access in ("read", "write")
        )
        ScopeClaim = Scope.claims.through
        ScopeClaim.objects.bulk_create(
            (
                ScopeClaim(scope_id=scope.pk, claim_id=claim.pk)
                for index, scope in enumerate(scope_rows)
                for claim in claim_rows[(index // 2) * per_subject : (index // 2 + 1) * per_subject]
            ),
            batch_size=2000,
        )
        role_rows = Role.objects.bulk_create(
            Role(name=f"{BIG_PREFIX}role_{k:03d}", description="benchmark") for k in range(roles)
        )
        RoleScope = Role.scopes.through
        links = []
        for k, role in enumerate(role_rows):
            if k == 0:
                held = scope_rows
            else:
                first = (k * 7) % subjects
                held = [
                    scope_rows[2 * ((first + t) % subjects) + a] for t in range(subjects // 2) for a in (0, 1)
                ]
            links += [RoleScope(role_id=role.pk, scope_id=scope.pk) for scope in held]
        RoleScope.objects.bulk_create(links, batch_size=2000)
        policy_changed()  # bulk inserts send no signals: tell every process the policy moved
    return {
        "categories": len(category_rows),
        "claims": len(claim_rows),
        "scopes": len(scope_rows),
        "roles": len(role_rows),
        "scope_claim_links": ScopeClaim.objects.filter(scope__name__startswith=BIG_PREFIX).count(),
        "role_scope_links": len(links),
        "widest_role": role_rows[0].name,
        "seconds": round(time.monotonic() - started, 1),
    }


def big_policy_drop() -> dict:
    from django.db import transaction

    from accounts.models import Client, Role
    from claims.models import Claim, ClaimCategory, Scope
    from claims.signals import policy_changed

    with transaction.atomic():
        deleted = {
            "clients": Client.objects.filter(role__name__startswith=BIG_PREFIX).delete()[0],
            "roles": Role.objects.filter(name__startswith=BIG_PREFIX).delete()[0],
            "scopes": Scope.objects.filter(name__startswith=BIG_PREFIX).delete()[0],
            "claims": Claim.objects.filter(attribute__startswith=BIG_PREFIX).delete()[0],
            "categories": ClaimCategory.objects.filter(name__startswith=BIG_PREFIX).delete()[0],
        }
        policy_changed()
    return deleted


def clients_drop(prefix: str) -> dict:
    from accounts.models import Client

    if not prefix.startswith("bench-"):
        raise SystemExit("refusing to delete clients whose names do not start with 'bench-'")
    return {"deleted": Client.objects.filter(name__startswith=prefix).delete()[0]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info")
    top_up = commands.add_parser("customers")
    top_up.add_argument("--target", type=int, required=True)
    big = commands.add_parser("big-policy")
    big.add_argument("--roles", type=int, default=100)
    big.add_argument("--scopes", type=int, default=200)
    big.add_argument("--claims", type=int, default=2000)
    big.add_argument("--categories", type=int, default=20)
    commands.add_parser("drop-big-policy")
    drop = commands.add_parser("drop-clients")
    drop.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)

    _setup()
    if args.command == "info":
        result = customer_info()
    elif args.command == "customers":
        result = customers_top_up(args.target)
    elif args.command == "big-policy":
        result = big_policy_create(
            roles=args.roles, scopes=args.scopes, claims=args.claims, categories=args.categories
        )
    elif args.command == "drop-big-policy":
        result = big_policy_drop()
    else:
        result = clients_drop(args.prefix)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
