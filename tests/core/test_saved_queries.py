"""Saved workbench queries in the platform DB (SQLite and PostgreSQL): shared, named once, owned by their author."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import User
from core.errors import Conflict, Forbidden, NotFound
from core.saved_queries import NAME_MAX, SavedQueries, SavedQueryInvalid
from tests.factories import make_user


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(session_factory) as s:
        return {
            "ana": make_user(s, "analyst", name="Ana Lyst").id,
            "bo": make_user(s, "analyst", name="Bo Analyst").id,
            "admin": make_user(s, "admin", name="Al Admin").id,
        }


def test_saved_by_one_analyst_listed_for_all(session_factory: sessionmaker[Session], people: dict[str, int]) -> None:
    service = SavedQueries(session_factory)
    saved = service.save(name="  Weekly views ", description="per course", sql="SELECT 1 ", author_id=people["ana"])
    assert (saved.name, saved.sql, saved.author_name) == ("Weekly views", "SELECT 1", "Ana Lyst")
    # Saving again under the same name replaces the author's own query: a repeated save changes nothing else.
    again = service.save(name="Weekly views", description="per course, v2", sql="SELECT 2", author_id=people["ana"])
    assert again.id == saved.id and again.updated_at >= saved.updated_at
    service.save(name="Another", description="", sql="SELECT 3", author_id=people["bo"])
    assert [(q.name, q.sql, q.author_name) for q in service.list()] == [
        ("Another", "SELECT 3", "Bo Analyst"),
        ("Weekly views", "SELECT 2", "Ana Lyst"),
    ]


def test_a_name_belongs_to_its_author_but_an_admin_may_replace(
    session_factory: sessionmaker[Session], people: dict[str, int]
) -> None:
    service = SavedQueries(session_factory)
    service.save(name="Mine", description="", sql="SELECT 1", author_id=people["ana"])
    with pytest.raises(Conflict, match="choose another name"):
        service.save(name="Mine", description="", sql="SELECT 666", author_id=people["bo"])
    assert service.list()[0].sql == "SELECT 1"
    replaced = service.save(
        name="Mine", description="", sql="SELECT 2", author_id=people["admin"], may_replace_others=True
    )
    assert replaced.author_id == people["ana"] and replaced.sql == "SELECT 2"


def test_only_the_author_or_an_admin_deletes(session_factory: sessionmaker[Session], people: dict[str, int]) -> None:
    service = SavedQueries(session_factory)
    first = service.save(name="One", description="", sql="SELECT 1", author_id=people["ana"])
    second = service.save(name="Two", description="", sql="SELECT 2", author_id=people["ana"])
    with pytest.raises(Forbidden):
        service.delete(query_id=first.id, user_id=people["bo"])
    service.delete(query_id=first.id, user_id=people["ana"])
    service.delete(query_id=second.id, user_id=people["admin"], may_delete_others=True)
    assert service.list() == []
    with pytest.raises(NotFound):
        service.delete(query_id=first.id, user_id=people["ana"])


def test_a_deleted_authors_queries_stay(session_factory: sessionmaker[Session], people: dict[str, int]) -> None:
    service = SavedQueries(session_factory)
    service.save(name="Kept", description="", sql="SELECT 1", author_id=people["bo"])
    with transaction(session_factory) as s:
        s.execute(delete(User).where(User.id == people["bo"]))
    [kept] = service.list()
    assert (kept.name, kept.author_id, kept.author_name) == ("Kept", None, None)


@pytest.mark.parametrize(
    ("name", "sql", "message"),
    [("", "SELECT 1", "needs a name"), ("x" * (NAME_MAX + 1), "SELECT 1", "needs a name"), ("ok", "  ", "needs SQL")],
)
def test_bad_fields_are_refused(
    session_factory: sessionmaker[Session], people: dict[str, int], name: str, sql: str, message: str
) -> None:
    with pytest.raises(SavedQueryInvalid, match=message):
        SavedQueries(session_factory).save(name=name, description="", sql=sql, author_id=people["ana"])
