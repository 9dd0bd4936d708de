"""Exceptions. Everything cdp raises on purpose derives from `CdpError`.

Messages name the file, the row or key, and the field, and never carry customer
PII (no raw values from data rows), because they end up in logs and the Dagster
event log.
"""

from __future__ import annotations

from pathlib import Path


class CdpError(Exception):
    """Root of cdp's own errors; the CLI prints the message and exits with `exit_code`."""

    exit_code = 1


class ConfigError(CdpError):
    """Invalid configuration: names the config file, the key and what is wrong."""

    exit_code = 2

    def __init__(self, path: Path | str | None, key: str | None, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.key = key
        self.problem = problem
        where = str(self.path) if self.path is not None else "<config>"
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class SourceError(CdpError):
    """A source file could not be read or validated (file, line and field in the message)."""

    def __init__(
        self,
        file: Path | str,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.problem = problem
        parts = [self.file]
        if line is not None:
            parts.append(f"line {line}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(f"{', '.join(parts)}: {problem}")


class WarehouseError(CdpError):
    """A DuckDB operation failed; carries the table and the statement."""

    def __init__(self, table: str, problem: str, sql: str | None = None) -> None:
        self.table = table
        self.sql = sql
        super().__init__(f"warehouse table {table!r}: {problem}")


class NotBuiltYet(CdpError):
    """A stage whose issue has not landed yet."""

    exit_code = 3
