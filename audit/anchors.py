"""Anchors: the audit chains' heads published outside the database, signed with the audit
HMAC key. A chain cut short, or rewritten from some entry on, no longer holds an anchored
head, which `verify_audit_chain --anchors` reports (audit.selectors.audit_chain_verify)."""

import hmac
import json
import os
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id

from .chain import UnknownKey, canonical_json, hmac_key
from .selectors import audit_chain_heads
from .services import AuditRecord, audit_record_many

FORMAT = "adplatform.audit-anchor/1"


class AnchorError(ValueError):
    pass


def _signature(document: dict, key_id: str) -> str:
    body = {name: value for name, value in document.items() if name != "signature"}
    return hmac.digest(hmac_key(key_id), canonical_json(body).encode(), "sha256").hex()


def anchor_document() -> dict:
    """The chains' heads now, signed under the current key."""
    key_id = settings.AUDIT_HMAC_KEY_ID
    document = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(timespec="microseconds"),
        "key_id": key_id,
        "heads": {str(chain): {"sequence": seq, "hash": hash_} for chain, (seq, hash_) in audit_chain_heads().items()},
    }
    document["signature"] = _signature(document, key_id)
    return document


def audit_anchor_publish(*, folder: str | None, recipients: list[str]) -> Path | None:
    """Write the heads to a new file in `folder` (never overwriting one) and/or mail them to
    `recipients`, then record that in the log. Returns the file written, if any."""
    document = anchor_document()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    stamp = document["created_at"].replace(":", "").replace("-", "").replace(".", "").replace("+0000", "Z")
    path = None
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = Path(folder) / f"audit-heads-{stamp}.json"
        # O_EXCL: a published anchor is never replaced, not even by a second beat.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), "w") as out:
            out.write(text)
    if recipients:
        message = EmailMessage(
            subject=f"adplatform audit chain heads {document['created_at']}",
            body="The audit log's chain heads, signed. Keep this mail: `manage.py verify_audit_chain "
            "--anchors FILE` with the attachment shows whether the log still holds them.\n",
            to=recipients,
        )
        message.attach(path.name if path else f"audit-heads-{stamp}.json", text, "application/json")
        message.send()
    with transaction.atomic():
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="audit.anchored",
                    actor="system:beat",
                    data={
                        "file": str(path) if path else None,
                        "recipients": len(recipients),
                        "chains": len(document["heads"]),
                        "signature": document["signature"],
                    },
                )
            ]
        )
    return path


def anchor_heads(document: dict) -> dict[int, tuple[int, str]]:
    """The heads of an anchor document, once its signature is checked."""
    if document.get("format") != FORMAT:
        raise AnchorError("not an audit anchor file")
    try:
        expected = _signature(document, document["key_id"])
    except UnknownKey as exc:
        raise AnchorError(f"signed with an unknown key: {exc}") from exc
    if not hmac.compare_digest(expected, str(document.get("signature", ""))):
        raise AnchorError("its signature does not verify: the file was altered")
    return {int(chain): (int(head["sequence"]), head["hash"]) for chain, head in document["heads"].items()}


def anchors_read(paths: list[str]) -> dict[int, dict[int, str]]:
    """The anchored heads of these files, chain -> {sequence: hash}."""
    anchored: dict[int, dict[int, str]] = {}
    for path in paths:
        try:
            document = json.loads(Path(path).read_text())
            heads = anchor_heads(document)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path}: {exc}") from exc
        for chain, (sequence, hash_) in heads.items():
            anchored.setdefault(chain, {})[sequence] = hash_
    return anchored
