"""How many alerts each tenant has in each status, kept by triggers on the `alerts` table.

The queue's total and the console's status tabs would otherwise count the rows of a tenant's
whole queue on every request. The projection cannot keep the counts itself: an alert event does
not say which status it leaves, and only the row it changes knows. A trigger sees exactly the row
changes the projection's version guards let through (an insert that loses to a newer row, or an
update older than the row, changes nothing and so counts nothing), and a replay into empty tables
counts from zero.

SQLite drops a table's triggers when a batch migration recreates the table, so every migration
run ends with `keep_alert_counts`, which puts back any missing trigger and then recounts.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

_ADD_NEW = """
    INSERT INTO alert_counts (tenant_id, status, alert_count)
    VALUES (NEW.tenant_id, NEW.status, 1)
    ON CONFLICT (tenant_id, status) DO UPDATE SET alert_count = alert_counts.alert_count + 1;
"""
# A status nobody is in has no row, as after a replay from event zero, so live and rebuilt tables
# compare equal.
_TAKE_OLD = """
    UPDATE alert_counts SET alert_count = alert_count - 1
    WHERE tenant_id = OLD.tenant_id AND status = OLD.status;
    DELETE FROM alert_counts
    WHERE tenant_id = OLD.tenant_id AND status = OLD.status AND alert_count = 0;
"""

TRIGGERS: dict[str, dict[str, str]] = {
    "sqlite": {
        "alert_counts_on_insert": f"""CREATE TRIGGER alert_counts_on_insert
            AFTER INSERT ON alerts BEGIN {_ADD_NEW} END""",
        "alert_counts_on_update": f"""CREATE TRIGGER alert_counts_on_update
            AFTER UPDATE OF tenant_id, status ON alerts
            WHEN OLD.status IS NOT NEW.status OR OLD.tenant_id IS NOT NEW.tenant_id
            BEGIN {_TAKE_OLD} {_ADD_NEW} END""",
        "alert_counts_on_delete": f"""CREATE TRIGGER alert_counts_on_delete
            AFTER DELETE ON alerts BEGIN {_TAKE_OLD} END""",
    },
    "postgresql": {
        "alert_counts_on_insert_or_delete": """CREATE TRIGGER alert_counts_on_insert_or_delete
            AFTER INSERT OR DELETE ON alerts
            FOR EACH ROW EXECUTE FUNCTION alert_counts_follow()""",
        "alert_counts_on_update": """CREATE TRIGGER alert_counts_on_update
            AFTER UPDATE OF tenant_id, status ON alerts FOR EACH ROW
            WHEN (OLD.status IS DISTINCT FROM NEW.status
                OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
            EXECUTE FUNCTION alert_counts_follow()""",
        # Row triggers do not see TRUNCATE; emptying the alerts empties their counts.
        "alert_counts_on_truncate": """CREATE TRIGGER alert_counts_on_truncate
            AFTER TRUNCATE ON alerts FOR EACH STATEMENT EXECUTE FUNCTION alert_counts_clear()""",
    },
}

POSTGRESQL_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION alert_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN {_TAKE_OLD} END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN {_ADD_NEW} END IF;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION alert_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM alert_counts;
        RETURN NULL;
    END $$""",
]

_PRESENT = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'alerts'",
    "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'alerts'::regclass",
}


def keep_alert_counts(connection: Connection) -> None:
    """Creates whichever count trigger is missing and, if any was, counts the alerts afresh;
    costs a catalogue query or two when all are in place, and nothing below the revision that
    brings the counts."""
    if not inspect(connection).has_table("alert_counts"):
        return
    dialect = connection.dialect.name
    present = set(connection.execute(text(_PRESENT[dialect])).scalars())
    missing = [name for name in TRIGGERS[dialect] if name not in present]
    if not missing:
        return
    if dialect == "postgresql":
        for function in POSTGRESQL_FUNCTIONS:
            connection.execute(text(function))
    for name in missing:
        connection.execute(text(TRIGGERS[dialect][name]))
    connection.execute(text("DELETE FROM alert_counts"))
    connection.execute(
        text(
            "INSERT INTO alert_counts (tenant_id, status, alert_count) "
            "SELECT tenant_id, status, count(*) FROM alerts GROUP BY tenant_id, status"
        )
    )


def drop_alert_counts(connection: Connection) -> None:
    """Removes the triggers and functions, for the migration's downgrade."""
    dialect = connection.dialect.name
    on_alerts = " ON alerts" if dialect == "postgresql" else ""
    for name in TRIGGERS[dialect]:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}{on_alerts}"))
    if dialect == "postgresql":
        connection.execute(text("DROP FUNCTION IF EXISTS alert_counts_follow()"))
        connection.execute(text("DROP FUNCTION IF EXISTS alert_counts_clear()"))
