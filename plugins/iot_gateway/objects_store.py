"""Object metadata in the database: the points and devices the gateway knows by ``code``.

SQLAlchemy Core statements only, written to run unchanged on SQLite and PostgreSQL; the
unique index on ``code`` is what finally decides a race between two writers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.timestamps import iso

from .tables import iot_objects

EDITABLE_FIELDS = ("code", "name", "type", "description", "metadata")

# Keeps each IN (...) well under SQLite's bound-parameter limit.
_LOOKUP_CHUNK = 500


class DuplicateCode(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"an object with code {code!r} already exists")
        self.code = code


class ConcurrentChange(Exception):
    """Another writer created one of the codes while a sync was running."""


@dataclass(slots=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def as_api_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "type": row.type,
        "description": row.description,
        "metadata": row.metadata,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


class ObjectStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(
        self, *, type: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """One page ordered by code, and the total count matching the filter."""
        condition = iot_objects.c.type == type if type is not None else sa.true()
        async with self._engine.connect() as connection:
            total = (
                await connection.execute(
                    sa.select(sa.func.count()).select_from(iot_objects).where(condition)
                )
            ).scalar_one()
            rows = (
                await connection.execute(
                    sa.select(iot_objects)
                    .where(condition)
                    .order_by(iot_objects.c.code)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        return [as_api_dict(row) for row in rows], int(total)

    async def get(self, object_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(iot_objects).where(iot_objects.c.id == object_id)
                )
            ).first()
        return as_api_dict(row) if row is not None else None

    async def create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        now = time.time()
        values = {
            "id": str(uuid.uuid4()),
            "code": fields["code"],
            "name": fields["name"],
            "type": fields.get("type", ""),
            "description": fields.get("description"),
            "metadata": fields.get("metadata") or {},
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self._engine.begin() as connection:
                await self._refuse_taken_code(connection, values["code"], None)
                await connection.execute(sa.insert(iot_objects).values(values))
        except IntegrityError:
            raise DuplicateCode(values["code"]) from None
        return as_api_dict(_Row(values))

    async def update(self, object_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        changes = {key: value for key, value in fields.items() if key in EDITABLE_FIELDS}
        if "metadata" in changes and changes["metadata"] is None:
            changes["metadata"] = {}
        try:
            async with self._engine.begin() as connection:
                if "code" in changes:
                    await self._refuse_taken_code(connection, changes["code"], object_id)
                result = await connection.execute(
                    sa.update(iot_objects)
                    .where(iot_objects.c.id == object_id)
                    .values(**changes, updated_at=time.time())
                )
                if result.rowcount == 0:
                    return None
                row = (
                    await connection.execute(
                        sa.select(iot_objects).where(iot_objects.c.id == object_id)
                    )
                ).one()
        except IntegrityError:
            raise DuplicateCode(str(changes.get("code"))) from None
        return as_api_dict(row)

    async def delete(self, object_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.delete(iot_objects).where(iot_objects.c.id == object_id)
            )
        return bool(result.rowcount)

    async def upsert_by_code(self, objects: Iterable[Mapping[str, Any]]) -> UpsertResult:
        """Insert unknown codes, update known ones with the fields given, in one transaction.

        Fields an entry leaves out keep their stored value, so a gateway that sends no
        descriptions does not erase the ones written by hand.
        """
        incoming = {entry["code"]: dict(entry) for entry in objects}
        try:
            return await self._upsert(incoming)
        except IntegrityError:
            raise ConcurrentChange(
                "an object with one of the synced codes was created while the sync ran; "
                "nothing was changed, run the sync again"
            ) from None

    async def _upsert(self, incoming: dict[str, dict[str, Any]]) -> UpsertResult:
        result = UpsertResult()
        now = time.time()
        async with self._engine.begin() as connection:
            existing = await self._rows_by_code(connection, list(incoming))
            inserts: list[dict[str, Any]] = []
            # Updates grouped by the columns they change, so each group is one executemany.
            updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for code, entry in incoming.items():
                row = existing.get(code)
                if row is None:
                    inserts.append(_new_row(code, entry, now))
                    continue
                changes = {
                    key: entry[key]
                    for key in ("name", "type", "description", "metadata")
                    if key in entry and entry[key] != getattr(row, key)
                }
                if not changes:
                    result.unchanged += 1
                    continue
                params = {f"new_{key}": value for key, value in changes.items()}
                params["target_id"] = row.id
                updates.setdefault(tuple(sorted(changes)), []).append(params)
                result.updated += 1
            for columns, rows in updates.items():
                statement = (
                    sa.update(iot_objects)
                    .where(iot_objects.c.id == sa.bindparam("target_id"))
                    .values(
                        {
                            **{key: sa.bindparam(f"new_{key}") for key in columns},
                            "updated_at": now,
                        }
                    )
                )
                await connection.execute(statement, rows)
            if inserts:
                await connection.execute(sa.insert(iot_objects), inserts)
                result.created = len(inserts)
        return result

    # Sequence, not list: in this class's scope ``list`` is the method above.
    async def _rows_by_code(
        self, connection: AsyncConnection, codes: Sequence[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(codes), _LOOKUP_CHUNK):
            chunk = codes[start : start + _LOOKUP_CHUNK]
            rows = await connection.execute(
                sa.select(iot_objects).where(iot_objects.c.code.in_(chunk))
            )
            found.update((row.code, row) for row in rows)
        return found

    async def _refuse_taken_code(
        self, connection: AsyncConnection, code: str, own_id: str | None
    ) -> None:
        owner = (
            await connection.execute(sa.select(iot_objects.c.id).where(iot_objects.c.code == code))
        ).scalar_one_or_none()
        if owner is not None and owner != own_id:
            raise DuplicateCode(code)


def _new_row(code: str, entry: Mapping[str, Any], now: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "code": code,
        "name": entry.get("name") or code,
        "type": entry.get("type") or "",
        "description": entry.get("description"),
        "metadata": entry.get("metadata") or {},
        "created_at": now,
        "updated_at": now,
    }


class _Row:
    """Attribute access over a values dict, so a fresh insert renders like a loaded row."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
