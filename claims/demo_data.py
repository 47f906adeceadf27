"""Deterministic demo customers: the same seed always gives the same records."""

import random
from collections.abc import Iterator
from decimal import Decimal

from schwifty import IBAN

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katarzyna",
    "Luca",
    "Mila",
    "Noah",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST_NAMES = [
    "Almeida",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lambert",
    "Müller",
    "Novak",
    "Oliveira",
    "Peeters",
    "Rossi",
    "Schmidt",
]
STREETS = ["Main Street", "Station Road", "Market Square", "Church Lane", "Harbour Way", "Park Avenue"]

# country -> (cities, bank code, bank name, account-code length)
BANKS = {
    "DE": (["Berlin", "Hamburg", "Munich", "Cologne"], "37040044", "Commerzbank", 10),
    "NL": (["Amsterdam", "Rotterdam", "Utrecht"], "ABNA", "ABN AMRO Bank", 10),
    "FR": (["Paris", "Lyon", "Marseille"], "30006", "Crédit Agricole", 11),
    "AT": (["Vienna", "Graz", "Linz"], "19043", "Bank Austria", 11),
    "IT": (["Rome", "Milan", "Turin"], "0542811101", "UBI Banca", 12),
}


def demo_customers(count: int, seed: int = 20261129) -> Iterator[dict]:
    """`count` customer records as field -> value dicts, with valid IBANs and unique e-mails."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = rng.choice(sorted(BANKS))
        cities, bank_code, bank_name, account_length = BANKS[country]
        account = str(rng.randrange(10 ** (account_length - 1), 10**account_length))
        yield {
            "name": f"{first} {last}",
            "email": f"customer{number:05d}@example.com",
            "age": rng.randint(18, 90),
            "street": f"{rng.randint(1, 200)} {rng.choice(STREETS)}",
            "city": rng.choice(cities),
            "postal_code": f"{rng.randint(1000, 99999):05d}",
            "country": country,
            "iban": str(IBAN.generate(country, bank_code=bank_code, account_code=account).compact),
            "bank_name": bank_name,
            "credit_limit": Decimal(rng.randrange(0, 50_000, 500)),
            "annual_income": Decimal(rng.randrange(15_000, 250_000, 1000)),
        }
