"""Executes a rendered superset_config.py with plain Python and prints its settings as JSON.

Usage: python3 exec_config.py PATH. The environment must carry the operator's variables.
A FLASK_APP_MUTATOR is called with a list for the app; the list is printed in its place.
Where cachelib or SQLAlchemy are not installed, minimal stand-ins record how the config uses
them, so the check needs nothing beyond the standard library.
"""

import json
import runpy
import sys
import types


def stand_in(module_name, attribute, value):
    try:
        __import__(module_name)
    except ImportError:
        parts = module_name.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            sys.modules.setdefault(name, types.ModuleType(name))
        setattr(sys.modules[module_name], attribute, value)


class RedisCache:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class NullPool:
    pass


stand_in("cachelib.redis", "RedisCache", RedisCache)
stand_in("sqlalchemy.pool", "NullPool", NullPool)


def plain(value):
    if isinstance(value, type):
        attributes = {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
        return attributes if attributes else value.__name__
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "kwargs"):
        return {"class": type(value).__name__, "kwargs": plain(value.kwargs)}
    return type(value).__name__


settings = runpy.run_path(sys.argv[1])
output = {k: plain(v) for k, v in settings.items() if k.isupper()}
# The app mutator, run on a list standing in for the app: what it did to it.
if callable(settings.get("FLASK_APP_MUTATOR")):
    app = []
    settings["FLASK_APP_MUTATOR"](app)
    output["FLASK_APP_MUTATOR"] = app
print(json.dumps(output, sort_keys=True))
