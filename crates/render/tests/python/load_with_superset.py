"""Loads a rendered superset_config.py through the real Superset and prints what it saw.

Run with the interpreter from hack/superset-python.sh:

    SUPERSET_CONFIG_PATH=/path/to/superset_config.py <python> load_with_superset.py

`superset.config` executes the file named by SUPERSET_CONFIG_PATH and copies its
upper-case names into its own globals, exactly as a Superset pod does at start-up.
The selected settings are printed as one JSON object, the last line of stdout.
Any failure while loading exits non-zero with the traceback on stderr.
"""

import contextlib
import json
import os
import sys

KEYS = (
    "SECRET_KEY",
    "SQLALCHEMY_DATABASE_URI",
    "SQLALCHEMY_ENGINE_OPTIONS",
    "FEATURE_FLAGS",
    "CACHE_CONFIG",
    "DATA_CACHE_CONFIG",
    "RESULTS_BACKEND",
    "CELERY_CONFIG",
    "SUPERSET_WEBSERVER_PORT",
)


@contextlib.contextmanager
def stdout_to_stderr():
    # Superset announces the loaded file on stdout (click.secho), and a config may print
    # too; redirect at the descriptor level so stdout carries only the JSON.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def plain(value):
    # Classes (a poolclass such as NullPool) become their name; anything else JSON
    # cannot hold becomes its string form.
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return str(value)


def celery(value):
    if value is None:
        return None
    get = value.get if isinstance(value, dict) else lambda k, d: getattr(value, k, d)
    missing = object()
    found = {}
    for key in (
        "broker_url",
        "result_backend",
        "broker_transport_options",
        "result_backend_transport_options",
        "imports",
        "worker_prefetch_multiplier",
    ):
        v = get(key, missing)
        if v is not missing:
            found[key] = v
    schedule = get("beat_schedule", None)
    if schedule is not None:
        found["beat_schedule"] = sorted(schedule)
    return found


def main():
    if not os.environ.get("SUPERSET_CONFIG_PATH"):
        sys.exit("load_with_superset: SUPERSET_CONFIG_PATH must name the config to load")
    with stdout_to_stderr():
        import superset.config as config  # raises, with traceback, if the file fails

    values = {key: getattr(config, key, None) for key in KEYS}
    backend = values["RESULTS_BACKEND"]
    values["RESULTS_BACKEND"] = None if backend is None else type(backend).__name__
    values["CELERY_CONFIG"] = celery(values["CELERY_CONFIG"])
    print(json.dumps(values, default=plain, sort_keys=False))


if __name__ == "__main__":
    main()
