"""The transition log is append-only on PostgreSQL: a trigger refuses UPDATE and DELETE.

The SQLAlchemy store's migration also refuses TRUNCATE; here TRUNCATE stays allowed,
because Django's test runner (``TransactionTestCase``, ``flush``) empties tables with it.
Other databases get no trigger, as in the store.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION orderflow_django_refuse_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow_transition_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER workflow_transition_log_append_only
    BEFORE UPDATE OR DELETE ON workflow_transition_log
    FOR EACH ROW EXECUTE FUNCTION orderflow_django_refuse_log_change();
"""

REMOVE = """
DROP TRIGGER IF EXISTS workflow_transition_log_append_only ON workflow_transition_log;
DROP FUNCTION IF EXISTS orderflow_django_refuse_log_change();
"""


def _on_postgres(sql: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("orderflow", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgres(INSTALL), _on_postgres(REMOVE), elidable=False),
    ]
