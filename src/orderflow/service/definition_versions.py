"""Migrations of persisted snapshots between definition versions.

A record stores the definition version its snapshot was written with
(``workflow_state["version"]``).  When the machine has moved on, the
snapshot is carried forward by the migrations registered for that machine,
one version step at a time; a version with no path to the current one is
refused with :class:`~orderflow.errors.InvalidSnapshotError`, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.errors import ConfigurationError, InvalidSnapshotError

#: fn(snapshot JSON with its context) -> snapshot JSON for the next version
SnapshotMigration = Callable[[dict[str, Any]], dict[str, Any]]


class DefinitionMigrations:
    """The registered migrations, by machine id and from-version."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, str], tuple[str, SnapshotMigration]] = {}

    def register(
        self, machine_id: str, from_version: str | int, to_version: str | int, fn: SnapshotMigration
    ) -> None:
        key = (machine_id, str(from_version))
        if key in self._steps:
            raise ConfigurationError(
                f"a migration of machine '{machine_id}' from version '{from_version}' is already "
                "registered",
                setting="migrations",
            )
        if str(from_version) == str(to_version):
            raise ConfigurationError("a migration must change the version", setting="migrations")
        self._steps[key] = (str(to_version), fn)

    def upgrade(
        self, machine_id: str, target: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """``data`` carried to version ``target``, and the version it started at (None when current)."""
        start = str(data.get("version", target))
        if start == target:
            return data, None
        version, seen = start, {start}
        while version != target:
            step = self._steps.get((machine_id, version))
            if step is None:
                raise InvalidSnapshotError(
                    f"this record was written by version '{start}' of machine '{machine_id}', which is "
                    f"now version '{target}', and no migration from version '{version}' is registered; "
                    f"register one with service.register_migration",
                    "$.version",
                )
            from_version = version
            version, fn = step
            if version in seen:
                raise InvalidSnapshotError(
                    f"the migrations of machine '{machine_id}' loop at version '{version}'",
                    "$.version",
                )
            seen.add(version)
            what = f"the migration of machine '{machine_id}' from version '{from_version}' to '{version}'"
            try:
                migrated = fn(dict(data))
            except Exception as exc:
                raise InvalidSnapshotError(
                    f"{what} failed: {type(exc).__name__}: {exc}", "$.version"
                ) from exc
            if not isinstance(migrated, dict):
                raise InvalidSnapshotError(
                    f"{what} must return the snapshot as a JSON object, not {type(migrated).__name__}",
                    "$",
                )
            data = {**migrated, "version": version, "machine": machine_id}
        return data, start
