"""Auth: usernames unique ignoring case (``users.username_key``).

Revision ID: auth_0002
Revises: auth_0001

"Olivia" and "olivia" were two accounts before this revision, which let a look-alike
account be made next to the owner's. Each name's NFKC case-folded form is stored in
``username_key`` under a unique index, and logins look names up by it.

Existing names that collide once folded are kept for the oldest account (earliest
``created_at``, then id); every later one is renamed to ``<name>-2``, ``<name>-3``, ...
and the rename is logged as a warning naming both accounts, so the owner can tell the
people concerned their new sign-in name (or rename them). Nothing is deleted.
"""

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

_LOGGER = logging.getLogger("plugins.auth.migrations")
MAX_USERNAME_CHARS = 128


def _key(name: str) -> str:
    # A frozen copy of plugins.auth.validation.username_key as of this revision.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    op.add_column("users", sa.Column("username_key", sa.String(512)))
    bind = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("username", sa.String),
        sa.column("username_key", sa.String),
        sa.column("created_at", sa.Float),
    )
    rows = bind.execute(
        sa.select(users.c.id, users.c.username).order_by(users.c.created_at, users.c.id)
    ).all()
    taken: dict[str, str] = {}
    for user_id, username in rows:
        name, key = username, _key(username)
        if key in taken:
            suffix = 2
            while True:
                tail = f"-{suffix}"
                name = username[: MAX_USERNAME_CHARS - len(tail)] + tail
                key = _key(name)
                if key not in taken and not any(_key(other) == key for _, other in rows):
                    break
                suffix += 1
            _LOGGER.warning(
                "Username %r is the same as %r ignoring case; renamed user %s to %r "
                "(sign in with that name, or rename the user)",
                username,
                taken[_key(username)],
                user_id,
                name,
            )
        taken[key] = name
        bind.execute(
            sa.update(users).where(users.c.id == user_id).values(username=name, username_key=key)
        )
    op.create_index("ux_users_username_key", "users", ["username_key"], unique=True)


def downgrade():
    op.drop_index("ux_users_username_key", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("username_key")
