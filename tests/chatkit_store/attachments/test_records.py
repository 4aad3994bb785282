"""The attachment service's records and SQL: stored names, owner scoping, rows to records."""

from __future__ import annotations

from types import SimpleNamespace

from chatkit_store.attachments.kinds import KINDS
from chatkit_store.attachments.records import (
    DELETE_FILE_OWNED,
    MAX_NAME_CHARS,
    RECORD_OWNED,
    USAGE,
    FileRecord,
    clean_name,
    owner_params,
    quota_lock,
    record_of,
)


def test_clean_name_keeps_the_last_printable_path_component():
    assert clean_name("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("a\x00b\x1b[2Jc.png") == "ab[2Jc.png"
    assert clean_name("   ") == "attachment"
    assert len(clean_name("x" * 1000)) == MAX_NAME_CHARS


def test_owner_facing_statements_are_scoped_to_tenant_and_user():
    params = owner_params("tenant-a", "user-1")
    assert params == {"owner_tenant": "tenant-a", "owner_user": "user-1"}
    for statement in (RECORD_OWNED, USAGE, DELETE_FILE_OWNED):
        names = set(statement.compile().params)
        assert {"owner_tenant", "owner_user"} <= names, statement
    assert quota_lock("u:1") != quota_lock("u:2")


def test_record_of_a_row():
    row = SimpleNamespace(
        attachment_id="atc_1",
        tenant_id="t",
        user_id="u",
        state="ready",
        kind="png",
        declared_size=10,
        size=9,
        storage="postgres",
    )
    assert record_of(row) == FileRecord("atc_1", "t", "u", "ready", KINDS["png"], 10, 9, "postgres")
