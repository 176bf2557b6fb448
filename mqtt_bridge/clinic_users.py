"""The clinicians who may read the dashboard: usernames and password hashes in the clinic
database (werkzeug's scrypt hash; the password itself is never stored or logged).

werkzeug (Flask's, the ``clinic`` extra) is imported when a password is hashed or checked.
"""

from __future__ import annotations

import re

from mqtt_bridge.clinic_db import ClinicDB

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD_CHARS = 12
#: Checked against when the user does not exist, so a wrong name costs the same time as a
#: wrong password (no user enumeration by timing).
_DUMMY_PASSWORD = "not a password of anyone"


def add(db: ClinicDB, username: str, password: str) -> None:
    """Add a user, or set a new password for one. Raises ``ValueError`` naming the rule a
    username or password breaks."""
    if not USERNAME.fullmatch(username):
        raise ValueError(
            "a username is 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter "
            f"or digit; got {username!r}"
        )
    from werkzeug.security import generate_password_hash

    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    with db.transaction():
        db.execute(
            "INSERT INTO users(username, password_hash, created_at) VALUES (?,?,?)"
            " ON CONFLICT(username) DO UPDATE SET password_hash=excluded.password_hash",
            (username, generate_password_hash(password), db.now()),
        )


def check(db: ClinicDB, username: str, password: str) -> bool:
    """Whether ``password`` is ``username``'s."""
    from werkzeug.security import check_password_hash, generate_password_hash

    rows = db.query("SELECT password_hash FROM users WHERE username=?", (username,))
    stored = rows[0][0] if rows else generate_password_hash(_DUMMY_PASSWORD)
    ok = check_password_hash(stored, password)
    return bool(rows) and ok


def usernames(db: ClinicDB) -> list[str]:
    return [r[0] for r in db.query("SELECT username FROM users ORDER BY username")]


__all__ = ["MIN_PASSWORD_CHARS", "add", "check", "usernames"]
