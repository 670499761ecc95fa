"""A Superset user, through the REST API: logs in, saves a database connection, runs an async
SQL Lab query (executed by a Celery worker) and reads its result, or schedules an alert and
waits for its execution log. Standard library only; run inside the node tier's network.

Usage:
    superset_client.py BASE_URL USER PASSWORD sqllab DATABASE_URI
    superset_client.py BASE_URL USER PASSWORD report DATABASE_URI TIMEOUT_SECONDS
    superset_client.py BASE_URL USER PASSWORD open-database NAME
    superset_client.py BASE_URL USER PASSWORD slow-query DATABASE_URI SECONDS
    superset_client.py BASE_URL - - watch PAGE_TITLE STOP_FILE

`watch` logs in as nobody: it asks for /health every quarter of a second until STOP_FILE
exists, telling Superset's answer ("OK") from the maintenance page's (PAGE_TITLE) and
counting everything else (a refused, reset or timed-out connection, another status) as an
error.

Prints one JSON object on its last line; exits non-zero with the reason on failure.
"""

import http.cookiejar
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.headers = {"Content-Type": "application/json"}

    def call(self, method, path, body=None, expect=(200, 201, 202)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=self.headers
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        if status not in expect:
            sys.exit(f"{method} {path}: {status}: {text[:2000]}")
        return json.loads(text) if text else {}

    def login(self, user, password):
        token = self.call(
            "POST",
            "/api/v1/security/login",
            {"username": user, "password": password, "provider": "db", "refresh": True},
        )["access_token"]
        self.headers["Authorization"] = f"Bearer {token}"
        csrf = self.call("GET", "/api/v1/security/csrf_token/")["result"]
        self.headers["X-CSRFToken"] = csrf
        self.headers["Referer"] = self.base + "/"

    def database(self, name, uri):
        found = self.call(
            "GET",
            "/api/v1/database/?q="
            + urllib.parse.quote(
                f"(filters:!((col:database_name,opr:eq,value:'{name}')))"
            ),
        )
        if found.get("result"):
            return found["result"][0]["id"]
        return self.call(
            "POST",
            "/api/v1/database/",
            {
                "database_name": name,
                "sqlalchemy_uri": uri,
                "expose_in_sqllab": True,
                "allow_run_async": True,
            },
        )["id"]


def rison_key(key):
    return urllib.parse.quote(f"(key:'{key}')")


def sqllab(client, uri):
    database = client.database("metastore", uri)
    started = client.call(
        "POST",
        "/api/v1/sqllab/execute/",
        {
            "database_id": database,
            "sql": "SELECT 6 * 7 AS answer",
            "runAsync": True,
            "client_id": f"c{int(time.time() * 1000) % 10**9}",
            "tab": "node tier",
            "queryLimit": 100,
            "select_as_cta": False,
            "ctas_method": "TABLE",
            "expand_data": True,
        },
    )
    query = started.get("query", {})
    client_id = query.get("id") or query.get("client_id")
    deadline = time.time() + 120
    while time.time() < deadline:
        updated = client.call(
            "GET", "/api/v1/query/updated_since?q=" + urllib.parse.quote("(last_updated_ms:0)")
        )
        for q in updated.get("result", []):
            if q.get("id") != client_id and q.get("client_id") != client_id:
                continue
            state = q.get("state")
            if state == "success" and q.get("resultsKey"):
                results = client.call(
                    "GET", "/api/v1/sqllab/results/?q=" + rison_key(q["resultsKey"])
                )
                return {"state": state, "data": results.get("data")}
            if state in ("failed", "stopped", "timed_out"):
                sys.exit(f"query {state}: {q.get('errorMessage')}")
        time.sleep(1)
    sys.exit(f"the async query {client_id} did not finish within 120 s: no worker ran it")


def report(client, uri, timeout):
    database = client.database("metastore", uri)
    # An alert must point at a chart or a dashboard, whose screenshot it would send.
    dashboard = client.call(
        "POST", "/api/v1/dashboard/", {"dashboard_title": f"node tier {int(time.time())}"}
    )["id"]
    created = client.call(
        "POST",
        "/api/v1/report/",
        {
            "dashboard": dashboard,
            "type": "Alert",
            "name": f"node tier alert {int(time.time())}",
            "database": database,
            "sql": "SELECT 1",
            "validator_type": "not null",
            "validator_config_json": {},
            "crontab": "* * * * *",
            "active": True,
            "log_retention": 1,
            "grace_period": 1,
            "working_timeout": 60,
            "recipients": [
                {"type": "Email", "recipient_config_json": {"target": "nobody@example.invalid"}}
            ],
        },
    )
    report_id = created["id"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        logs = client.call("GET", f"/api/v1/report/{report_id}/log/")
        if logs.get("count", 0) > 0:
            entry = logs["result"][0]
            return {"report": report_id, "state": entry.get("state"), "logs": logs["count"]}
        time.sleep(3)
    sys.exit(f"report {report_id} was not executed within {timeout} s: beat or worker idle")


def slow_query(client, uri, seconds):
    """A synchronous query that keeps one web server request open for `seconds`."""
    database = client.database("metastore", uri)
    started = time.time()
    result = client.call(
        "POST",
        "/api/v1/sqllab/execute/",
        {
            "database_id": database,
            "sql": f"SELECT 1 AS done FROM pg_sleep({seconds})",
            "runAsync": False,
            "client_id": f"s{int(time.time() * 1000) % 10**9}",
            "tab": "node tier",
            "queryLimit": 10,
            "select_as_cta": False,
            "ctas_method": "TABLE",
            "expand_data": True,
        },
    )
    return {"data": result.get("data"), "seconds": round(time.time() - started, 1)}


def open_database(client, name):
    found = client.call(
        "GET",
        "/api/v1/database/?q="
        + urllib.parse.quote(f"(filters:!((col:database_name,opr:eq,value:'{name}')))"),
    )
    database = found["result"][0]["id"]
    tested = client.call("GET", f"/api/v1/database/{database}/connection", expect=(200,))
    return {"database": database, "uri_masked": tested.get("result", {}).get("sqlalchemy_uri")}


def watch(base, title, stop_file):
    """What a user polling the web Service sees, answer by answer, until `stop_file` exists."""
    started = time.time()
    seen = {"superset": 0, "maintenance": 0, "error": 0}
    changes, errors, last = [], [], None
    while not os.path.exists(stop_file):
        at = round(time.time() - started, 2)
        try:
            # The maintenance page sends every path to `/`, which urllib follows.
            with urllib.request.urlopen(base.rstrip("/") + "/health", timeout=5) as response:
                body = response.read().decode(errors="replace")
            kind = "superset" if body.strip() == "OK" else "maintenance" if title in body else None
            if kind is None:
                raise ValueError(f"an unknown page: {body[:200]!r}")
        except Exception as error:  # noqa: BLE001 (every failure is what the test counts)
            kind = "error"
            if len(errors) < 20:
                errors.append(f"{at} s: {error}")
        seen[kind] += 1
        if kind != last:
            changes.append(f"{at} s: {kind}")
            last = kind
        time.sleep(0.25)
    return {"seen": seen, "changes": changes, "errors": errors}


def main():
    base, user, password, action = sys.argv[1:5]
    if action == "watch":
        print(json.dumps(watch(base, sys.argv[5], sys.argv[6])))
        return
    client = Client(base)
    client.login(user, password)
    if action == "sqllab":
        result = sqllab(client, sys.argv[5])
    elif action == "report":
        result = report(client, sys.argv[5], int(sys.argv[6]))
    elif action == "slow-query":
        result = slow_query(client, sys.argv[5], int(sys.argv[6]))
    elif action == "open-database":
        result = open_database(client, sys.argv[5])
    else:
        sys.exit(f"unknown action {action}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
