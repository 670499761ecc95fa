"""The rotate task: re-encrypts every secret in Superset's metastore (database passwords and
extras, OAuth2 tokens, SSH tunnel credentials: each EncryptedType column of its models) from
PREVIOUS_SECRET_KEY to SECRET_KEY.

It replaces `superset re-encrypt-secrets`, which on Superset 6.0 and 6.1 looks for encrypted
columns in a metadata that holds none of the models, logs "All tables processed" and exits 0
having changed nothing (apache/superset#39391): every saved connection then fails with
"Invalid decryption key".

All or nothing, in one transaction: a value the new key reads already is left as it is, so a
re-run changes nothing; a value that neither key reads fails the task and nothing is written.
It prints counts and column names, never a value.
"""

import copy
import sys

import sqlalchemy as sa
from sqlalchemy_utils.types.encrypted.encrypted_type import StringEncryptedType


class Unreadable(Exception):
    pass


def encrypted_tables(metadatas):
    """(table, encrypted columns) of every model, each table once."""
    tables = {}
    for metadata in metadatas:
        for table in metadata.tables.values():
            columns = [c for c in table.columns if isinstance(c.type, StringEncryptedType)]
            if columns and table.name not in tables:
                tables[table.name] = (table, columns)
    return list(tables.values())


def stored(value):
    """The column's bytes as the driver returns them (PostgreSQL: a memoryview)."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, str):
        return value.encode()
    return value


def keyed(column_type, key):
    """The column's own type (engine, padding, underlying type) with another key."""
    other = copy.copy(column_type)
    other.key = key
    return other


def decrypt(column_type, key, value, dialect):
    """The plain value, or None when `key` does not read it."""
    try:
        return (keyed(column_type, key).process_result_value(value, dialect),)
    except (ValueError, UnicodeDecodeError):
        return None


def rotate(conn, tables, previous_key, key):
    counts = {"re-encrypted": 0, "already on the new key": 0, "empty": 0}
    unreadable = set()
    quote = conn.dialect.identifier_preparer.quote
    for table, columns in tables:
        keys = list(table.primary_key.columns)
        selected = ", ".join(quote(c.name) for c in keys + columns)
        rows = conn.execute(sa.text(f"SELECT {selected} FROM {quote(table.name)}")).fetchall()
        for row in rows:
            changes = {}
            for index, column in enumerate(columns, start=len(keys)):
                value = stored(row[index])
                if value is None:
                    counts["empty"] += 1
                elif decrypt(column.type, key, value, conn.dialect) is not None:
                    counts["already on the new key"] += 1
                elif (plain := decrypt(column.type, previous_key, value, conn.dialect)) is None:
                    unreadable.add(f"{table.name}.{column.name}")
                else:
                    changes[column.name] = keyed(column.type, key).process_bind_param(
                        plain[0], conn.dialect
                    )
            if changes:
                update(conn, table, keys, row, changes)
                counts["re-encrypted"] += len(changes)
    if unreadable:
        raise Unreadable(
            f"values in {', '.join(sorted(unreadable))} are readable with neither key: "
            "PREVIOUS_SECRET_KEY is not the key they were saved with. Nothing was changed."
        )
    return counts


def update(conn, table, keys, row, changes):
    quote = conn.dialect.identifier_preparer.quote
    values = {f"v{i}": v for i, v in enumerate(changes.values())}
    sets = ", ".join(f"{quote(name)} = :v{i}" for i, name in enumerate(changes))
    where = " AND ".join(f"{quote(k.name)} = :k{i}" for i, k in enumerate(keys))
    params = {**values, **{f"k{i}": row[i] for i in range(len(keys))}}
    conn.execute(sa.text(f"UPDATE {quote(table.name)} SET {sets} WHERE {where}"), params)


def main():
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from flask_appbuilder import Model
        from superset import db

        previous_key = app.config.get("PREVIOUS_SECRET_KEY")
        if not previous_key:
            sys.exit("rotate: PREVIOUS_SECRET_KEY is not set: there is no key to re-encrypt from")
        tables = encrypted_tables([Model.metadata, db.metadata])
        if not tables:
            sys.exit("rotate: no encrypted column in Superset's models: nothing would be rotated")
        try:
            with db.engine.begin() as conn:
                counts = rotate(conn, tables, previous_key, app.config["SECRET_KEY"])
        except Unreadable as error:
            sys.exit(f"rotate: {error}")
        names = ", ".join(table.name for table, _ in tables)
        summary = ", ".join(f"{count} {what}" for what, count in counts.items())
        print(f"rotate: {summary} (tables {names})")


if __name__ == "__main__":
    main()
