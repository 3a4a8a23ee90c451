"""HW000-HW005 beyond the documented examples: aliases, imports, where the Connector lives."""

from __future__ import annotations

from collections.abc import Callable

from headwater.lint import LintReport

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]

OK_TAIL = '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({"done": True})
'''


def test_syntax_error_in_an_imported_module_is_reported_there(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(
        "from fivetran_connector_sdk import Connector, Operations as op\nimport helper\n" + OK_TAIL
        + "\nconnector = Connector(update=update)\n",
        files={"helper.py": "def broken(:\n    pass\n"},
    )
    assert hits(report) == [("HW000", "helper.py", 1)]


def test_connector_under_an_alias_of_the_sdk_module_is_recognised(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        import fivetran_connector_sdk as sdk

        def update(configuration, state):
            sdk.Operations.upsert("t", {"id": 1})
            sdk.Operations.checkpoint({"done": True})

        connector = sdk.Connector(update=update)
    ''')
    assert hits(report) == []


def test_update_imported_from_a_helper_module_counts(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector
        from sync import update

        connector = Connector(update=update)
    ''', files={"sync.py": '''
        from fivetran_connector_sdk import Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({"done": True})
    '''})
    assert hits(report) == []


def test_no_update_and_no_connector_reports_both_at_line_one(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Operations as op

        def sync(configuration, state):
            op.upsert("t", {"id": 1})
    ''')
    assert hits(report, "HW001") == [("HW001", "connector.py", 1)]
    assert hits(report, "HW002") == [("HW002", "connector.py", 1)]


def test_connector_created_only_under_main_guard_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        if __name__ == "__main__":
            connector = Connector(update=update)
            connector.debug()
    ''')
    assert hits(report) == [("HW002", "connector.py", 8)]
    assert "__main__" in report.findings[0].message


def test_connector_created_in_a_function_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        def build():
            return Connector(update=update)
    ''')
    assert hits(report) == [("HW002", "connector.py", 8)]


def test_connector_assigned_in_an_if_else_at_module_level_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        import os
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        if os.environ.get("X"):
            connector = Connector(update=update)
        else:
            connector = Connector(update)
    ''')
    assert hits(report) == []


def test_update_passed_positionally_or_through_kwargs_is_accepted(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        OPTIONS = {"update": update}
        first = Connector(update)
        connector = Connector(**OPTIONS)
    ''')
    assert hits(report) == []


def test_update_called_instead_of_passed_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        connector = Connector(update=update({}, {}))
    ''')
    assert hits(report, "HW003") == [("HW003", "connector.py", 7)]


def test_update_factory_call_is_not_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def make_update(table):
            def update(configuration, state):
                op.upsert(table, {"id": 1})
                op.checkpoint({})
            return update

        connector = Connector(update=make_update("t"))
    ''')
    assert hits(report) == []


def test_async_update_and_extra_required_parameter_are_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        async def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        def schema(configuration, extra):
            return []

        connector = Connector(update=update, schema=schema)
    ''')
    assert hits(report, "HW004") == [("HW004", "connector.py", 3), ("HW004", "connector.py", 7)]


def test_signatures_with_defaults_kwargs_or_keyword_only_names_are_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration: dict, state: dict, *, page_size: int = 100):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        def other(**kwargs):
            op.checkpoint({})

        def schema(configuration=None):
            return []

        connector = Connector(update=update, schema=schema)
        second = Connector(update=other)
    ''')
    assert hits(report) == []


def test_schema_not_passed_is_not_reported_when_passed_positionally(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op

        def schema(configuration):
            return [{"table": "t", "primary_key": ["id"]}]

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        connector = Connector(update, schema)
    ''')
    assert hits(report) == []
