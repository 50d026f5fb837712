"""The committed SDL (schema/schema.graphql) is the schema the server serves."""

from __future__ import annotations

from resolute.api.settings import ROOT
from resolute.schema.export import export_sdl


def test_committed_sdl_is_current() -> None:
    committed = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), "schema/schema.graphql is stale: run `make schema` (resolute export-schema) and commit it"


def test_mutations_are_noun_first_with_typed_errors() -> None:
    from resolute.schema.root import schema

    mutation = schema._schema.mutation_type
    assert mutation is not None
    for name, field in mutation.fields.items():
        payload = field.type.of_type if hasattr(field.type, "of_type") else field.type
        assert "errors" in payload.fields, f"{name} has no errors list"
        assert name[0].islower() and not name.startswith(("create", "update", "delete", "move")), name
