"""Fixtures for the worker tests: databases (shared with tests/store), an alarm machine, consumers.

The alarm machine has one ``after`` timer: ``armed`` rings after a minute
(its ``ring`` effect writes a ``Capture`` row, so a test can count firings
by their side effect, not only by log rows) unless the context is muted;
``REARM`` arms the same timer id again.
"""

from __future__ import annotations
