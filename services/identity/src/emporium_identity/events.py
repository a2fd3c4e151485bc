"""Every event identity publishes (it consumes none yet), declared in one place.

Subjects are ``emporium.identity.<Type>`` on the ``EMPORIUM_IDENTITY`` stream. Events never
leave on their own: each is written into the user document's outbox in the same
single-document write as the change it reports (the kit's ``with_outbox``/``with_events``) and
the kit's ``OutboxRelay`` publishes it.

``PasswordResetRequested`` and ``EmailVerificationRequested`` carry the raw one-time token:
the notification service needs it to build the link it mails. The store keeps only the
token's hash; the token in the event is single-use and expires (``expires_at``) long before
the stream's retention, and the ``EMPORIUM_IDENTITY`` stream must only be readable by
services that send mail (see docs/identity.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from pydantic import BaseModel, ConfigDict

DOMAIN = "identity"

RegistrationMethod = Literal["password", "oidc"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class UserRegisteredData(_Payload):
    user_id: str
    email: str
    email_verified: bool
    display_name: str | None
    roles: list[str]
    method: RegistrationMethod
    provider: str | None = None
    registered_at: datetime


class UserRolesChangedData(_Payload):
    user_id: str
    roles: list[str]
    seller_id: str | None
    granted: list[str]
    revoked: list[str]
    changed_by: str
    # the user document's version after the change: consumers drop older or equal ones
    version: int
    changed_at: datetime


class PasswordResetRequestedData(_Payload):
    user_id: str
    email: str
    token: str
    expires_at: datetime


class EmailVerificationRequestedData(_Payload):
    user_id: str
    email: str
    token: str
    expires_at: datetime


identity = EventCatalog("identity")

UserRegistered = identity.publishes(EventSpec(DOMAIN, "UserRegistered", UserRegisteredData))
UserRolesChanged = identity.publishes(EventSpec(DOMAIN, "UserRolesChanged", UserRolesChangedData))
PasswordResetRequested = identity.publishes(
    EventSpec(DOMAIN, "PasswordResetRequested", PasswordResetRequestedData)
)
EmailVerificationRequested = identity.publishes(
    EventSpec(DOMAIN, "EmailVerificationRequested", EmailVerificationRequestedData)
)


def user_registered(data: UserRegisteredData) -> Event[UserRegisteredData]:
    return identity.new(
        UserRegistered, data, aggregate_id=data.user_id, occurred_at=data.registered_at
    )


def user_roles_changed(data: UserRolesChangedData) -> Event[UserRolesChangedData]:
    return identity.new(
        UserRolesChanged, data, aggregate_id=data.user_id, occurred_at=data.changed_at
    )


def password_reset_requested(
    data: PasswordResetRequestedData,
) -> Event[PasswordResetRequestedData]:
    return identity.new(PasswordResetRequested, data, aggregate_id=data.user_id)


def email_verification_requested(
    data: EmailVerificationRequestedData,
) -> Event[EmailVerificationRequestedData]:
    return identity.new(EmailVerificationRequested, data, aggregate_id=data.user_id)
