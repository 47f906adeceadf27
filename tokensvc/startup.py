"""Load the settings before Django does, so a configuration error is one clear line."""

import importlib
import os
import sys

from django.core.exceptions import ImproperlyConfigured

SETTINGS_MODULE = "tokensvc.settings"


def load_settings_or_exit() -> None:
    """Import the settings module; on a missing or invalid variable, print it and exit 2."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    try:
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
