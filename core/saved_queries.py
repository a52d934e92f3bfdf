"""Saved SQL workbench queries, in the platform DB: named, described, shared by everyone who opens the workbench.

Anyone who may open the workbench sees every saved query. Saving under a name you already saved replaces
your query (so saving twice is harmless); a name someone else saved is theirs — only an admin may replace or
delete another author's query. The workbench runs the SQL later under its own guards: saving one never runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import SavedQuery, User, utcnow
from core.errors import Conflict, ErrorKind, Forbidden, NotFound, PermanentError

NAME_MAX = 120
DESCRIPTION_MAX = 2_000
SQL_MAX = 100_000


class SavedQueryInvalid(PermanentError):
    """A saved query's name, description or SQL is empty or too long."""

    kind = ErrorKind.INVALID


@dataclass(frozen=True)
class SavedQueryRecord:
    id: int
    name: str
    description: str
    sql: str
    author_id: int | None
    author_name: str | None
    updated_at: datetime


def clean(name: str, description: str, sql: str) -> tuple[str, str, str]:
    """The fields as stored (trimmed), or SavedQueryInvalid saying which one is wrong."""
    name, description, sql = name.strip(), description.strip(), sql.strip()
    if not name or len(name) > NAME_MAX:
        raise SavedQueryInvalid(f"A saved query needs a name of 1 to {NAME_MAX} characters.")
    if len(description) > DESCRIPTION_MAX:
        raise SavedQueryInvalid(f"The description is over {DESCRIPTION_MAX:,} characters.")
    if not sql or len(sql) > SQL_MAX:
        raise SavedQueryInvalid(f"A saved query needs SQL of 1 to {SQL_MAX:,} characters.")
    return name, description, sql


class SavedQueries:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def list(self) -> list[SavedQueryRecord]:
        """Every saved query, by name."""
        with self.session_factory() as session:
            rows = session.execute(
                select(SavedQuery, User.name).outerjoin(User, User.id == SavedQuery.author_id).order_by(SavedQuery.name)
            ).all()
            return [_record(query, author) for query, author in rows]

    def save(
        self, *, name: str, description: str, sql: str, author_id: int, may_replace_others: bool = False
    ) -> SavedQueryRecord:
        """Create the query, or replace the one of that name when it is the author's (or `may_replace_others`)."""
        name, description, sql = clean(name, description, sql)
        try:
            with transaction(self.session_factory) as session:
                query = session.execute(select(SavedQuery).where(SavedQuery.name == name)).scalar_one_or_none()
                if query is None:
                    query = SavedQuery(name=name, description=description, sql=sql, author_id=author_id)
                    session.add(query)
                elif query.author_id != author_id and not may_replace_others:
                    raise Conflict(
                        f"Another author already saved a query named {name!r}: choose another name.",
                        context={"name": name},
                    )
                else:
                    query.description, query.sql, query.updated_at = description, sql, utcnow()
                session.flush()
                author = session.get(User, query.author_id) if query.author_id is not None else None
                return _record(query, author.name if author is not None else None)
        except IntegrityError:
            # Someone saved the same name between our read and our insert.
            raise Conflict(f"A query named {name!r} was saved a moment ago: choose another name.") from None

    def delete(self, *, query_id: int, user_id: int, may_delete_others: bool = False) -> None:
        with transaction(self.session_factory) as session:
            query = session.get(SavedQuery, query_id)
            if query is None:
                raise NotFound(f"No saved query has id {query_id}.")
            if query.author_id != user_id and not may_delete_others:
                raise Forbidden("Only its author or an admin may delete a saved query.")
            session.delete(query)


def _record(query: SavedQuery, author_name: str | None) -> SavedQueryRecord:
    return SavedQueryRecord(
        query.id, query.name, query.description, query.sql, query.author_id, author_name, query.updated_at
    )
