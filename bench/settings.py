"""Production settings plus the benchmark's floor view: the only difference is the URL map."""

from tokensvc.settings import *  # noqa: F403  (every setting, read from the environment as in production)

ROOT_URLCONF = "tokensvc.bench_urls"
