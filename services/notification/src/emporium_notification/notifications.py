"""Use cases: remember buyers' addresses, and send one email per event.

Exactly one email per event: the notification's ``_id`` is the event's id. The first delivery
inserts it (an atomic unique ``_id``), sends, then marks it SENT with ``EmailNotificationSent``
in the same write; a redelivery finds it SENT and sends nothing. A crash between the SMTP
server's acceptance and that write is the one window in which a redelivery sends again (the
same ``Message-ID``): no SMTP transaction can be made atomic with a database write.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from emporium_kit.documents import now
from pymongo.errors import DuplicateKeyError

from emporium_notification import events
from emporium_notification.emails import Mailer, Renderer
from emporium_notification.store import NotificationDb

Doc = dict[str, Any]


@dataclass(frozen=True)
class Notifier:
    db: NotificationDb
    mailer: Mailer
    renderer: Renderer
    storefront_url: str


async def remember_contact(notifier: Notifier, *, user_id: str, email: str) -> None:
    with contextlib.suppress(DuplicateKeyError):  # registered once; a redelivery finds it
        await notifier.db.contacts.insert_one({"_id": user_id, "email": email, "at": now()})


async def address_of(notifier: Notifier, user_id: str, given: str | None) -> str | None:
    if given:
        return given
    contact = await notifier.db.contacts.get(user_id)
    return contact["email"] if contact else None


async def send_once(
    notifier: Notifier,
    *,
    event_id: str,
    kind: str,
    user_id: str,
    to: str | None,
    subject_id: str,
    context: dict[str, Any],
) -> Doc:
    """Send the ``kind`` email for event ``event_id`` unless it was sent; without an address
    the notification is recorded as undeliverable and nothing is sent."""
    db = notifier.db
    at = now()
    doc = {
        "_id": event_id,
        "kind": kind,
        "user_id": user_id,
        "subject_id": subject_id,  # the order or user the email is about
        "to": to,
        "status": "SENDING" if to else "NO_ADDRESS",
        "attempts": 0,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }
    try:
        await db.notifications.insert(doc)
    except DuplicateKeyError:
        found = await db.notifications.get(event_id, {"outbox": 0})
        assert found is not None
        doc = found
    if doc["status"] != "SENDING" or not to:
        return doc
    email = notifier.renderer.render(kind, to, context)
    await notifier.mailer.send(email, message_id=event_id)

    def sent(current: Doc) -> tuple[Doc, list[Any]] | None:
        if current["status"] != "SENDING":
            return None
        changes = {
            "status": "SENT",
            "subject": email.subject,
            "sent_at": now(),
            "updated_at": now(),
        }
        after = {**current, **changes, "version": current["version"] + 1}
        return changes, [events.email_sent(after)]

    return await db.notifications.update(event_id, sent)
