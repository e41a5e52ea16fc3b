"""Source documents as YAML: read with the line of every field, so a refusal names it, and
written back in the order the documents are written by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from vigil.application.source_desk import DocumentRefused, PlacedDocument
from vigil.infrastructure.yaml_documents import DocumentError, load_documents


class YamlSourceDocuments:
    """Implements `SourceDocuments`."""

    def read(self, text: str) -> Sequence[PlacedDocument]:
        try:
            return load_documents(text, "document")
        except DocumentError as error:
            raise DocumentRefused(error.line, error.field or "document", error.reason) from None

    def write(self, document: Mapping[str, Any]) -> str:
        return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)
