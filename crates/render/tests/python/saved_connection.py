"""Saves a database connection in a Superset metastore, or reads its password back.

Usage (SUPERSET_CONFIG_PATH names the config; its SECRET_KEY encrypts and decrypts):
    saved_connection.py save NAME URI
    saved_connection.py read NAME

Prints the password on read; exits non-zero with Superset's error when it cannot decrypt it.
"""

import sys

from superset.app import create_app


def main():
    action, name = sys.argv[1:3]
    with create_app().app_context():
        from superset import db
        from superset.models.core import Database

        if action == "save":
            database = Database(database_name=name)
            database.set_sqlalchemy_uri(sys.argv[3])
            db.session.add(database)
            db.session.commit()
            print("saved")
        else:
            database = db.session.query(Database).filter_by(database_name=name).one()
            print(database.password)


if __name__ == "__main__":
    main()
