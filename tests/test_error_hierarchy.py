"""One error hierarchy: every public exception class in product code derives from core.errors.LecternError,
and each has a kind (what the caller can do) and a message safe to show."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
from pathlib import Path

from core.errors import ErrorKind, LecternError, PermanentError, StorageCredentialsInvalid, TransientError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "api", "sync", "dashboard", "warehouse", "lectern")
# Streamlit scripts, Alembic's environment and `python -m` entries run when imported: read with ast only.
SCRIPTS = ("dashboard/app.py", "dashboard/pages/", "lectern/__main__.py", "core/db/migrations/")
BUILTIN_EXCEPTIONS = {
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
}
# The only classes whose kind may stay `internal`: the roots of the tree.
ROOTS = {LecternError, PermanentError}


def product_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def is_script(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == s or (s.endswith("/") and rel.startswith(s)) for s in SCRIPTS)


def product_exceptions() -> list[type[BaseException]]:
    """Every exception class defined at the top level of an importable product module."""
    found = []
    for path in product_files():
        if is_script(path):
            continue
        module = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        )
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_no_public_exception_outside_the_root() -> None:
    outside = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in product_exceptions()
        if not cls.__name__.startswith("_") and not issubclass(cls, LecternError)
    ]
    assert outside == []


def test_the_scan_sees_the_tree() -> None:
    # Guards the test above against scanning nothing: classes from every layer are found.
    names = {cls.__name__ for cls in product_exceptions()}
    assert {"LecternError", "SettingsError", "WarehouseBusy", "SyncConfigError", "SignInError", "UploadFailed"} <= names


def test_scripts_define_no_exception_class() -> None:
    for path in filter(is_script, product_files()):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                assert not bases & BUILTIN_EXCEPTIONS and not any(b.endswith("Error") for b in bases), path


def test_every_error_has_a_kind_of_its_own() -> None:
    vague = [
        cls.__name__
        for cls in product_exceptions()
        if issubclass(cls, LecternError) and cls not in ROOTS and cls.kind is ErrorKind.INTERNAL
    ]
    assert vague == []


def test_retryable_errors_are_transient() -> None:
    # core/retry.py retries TransientError: an error that says "try again" is one.
    for cls in product_exceptions():
        if issubclass(cls, LecternError) and cls.kind is ErrorKind.RETRYABLE:
            assert issubclass(cls, TransientError), cls.__name__


def test_user_message_is_the_message_unless_a_public_one_is_set() -> None:
    assert LecternError("lesson 3 has no video").user_message == "lesson 3 has no video"
    hidden = StorageCredentialsInvalid("bucket lectern-private: ExpiredToken")
    assert hidden.message == "bucket lectern-private: ExpiredToken"
    assert "lectern-private" not in hidden.user_message and "operator" in hidden.user_message
