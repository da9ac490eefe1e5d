"""The package logger. The library only adds a NullHandler; the CLI sets levels."""

from __future__ import annotations

import logging

log = logging.getLogger("oauthcli")
log.addHandler(logging.NullHandler())
