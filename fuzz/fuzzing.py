"""What the fuzz targets share: the code atheris instruments, and its start.

Coverage guidance needs instrumented code, and instrumenting costs about 2 ms
a function: ``atheris.instrument_all()`` spends 7 to 15 s on the ~4,000
functions a harness has loaded, most of them logging, typing and the like.
So only oauthcli and the standard-library parsers it hands outside bytes to
are instrumented: about 600 functions, in a second or so.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable, Iterator

__all__ = ["INSTRUMENTED", "fuzz"]

# Module name prefixes: oauthcli, and what parses requests, headers, queries
# and JSON for it.
INSTRUMENTED = ("oauthcli", "http.server", "http.client", "email", "urllib", "json")


def _functions(prefixes: tuple[str, ...]) -> Iterator[types.FunctionType]:
    for obj in gc.get_objects():
        if not isinstance(obj, types.FunctionType):
            continue
        module = obj.__module__ or ""
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            yield obj


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Instrument ``INSTRUMENTED`` and hand ``test_one_input`` to libFuzzer.

    libFuzzer reads its own options from ``sys.argv`` (corpus directories,
    ``-max_total_time``, ``-timeout``...) and exits the process when done.
    """
    import atheris

    for function in list(_functions(INSTRUMENTED)):
        atheris.instrument_func(function)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
