"""Production settings plus the benchmark's floor view: the URL map, and the floor served
through the same middleware as the endpoints it is compared with (the machine endpoints')."""

from tokensvc.settings import *  # noqa: F403  (every setting, read from the environment as in production)

ROOT_URLCONF = "tokensvc.bench_urls"
MACHINE_PATH_PREFIXES = (*MACHINE_PATH_PREFIXES, "/bench/floor/")  # noqa: F405
