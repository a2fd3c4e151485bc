"""Rendering (jinja2, HTML + text, from the package's ``templates/``) and sending (aiosmtplib).

Transient SMTP failures (the relay unreachable, a 4xx answer) are retried within the delivery
with exponential backoff (tenacity); a permanent one (5xx: a refused recipient) is not, and the
event's remaining deliveries end in the dead-letter stream with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

SUBJECTS = {
    "order_confirmed": "Your order is confirmed",
    "order_cancelled": "Your order was cancelled",
    "payment_failed": "Your payment did not go through",
    "payment_refunded": "Your refund is on its way",
    "email_verification": "Confirm your email address",
    "password_reset": "Reset your password",
}


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("emporium_notification", "templates"),
            autoescape=select_autoescape(["html.j2"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._env.globals["money"] = money

    def render(self, kind: str, to: str, context: dict[str, Any]) -> Email:
        subject = SUBJECTS[kind]
        values = {**context, "subject": subject}
        return Email(
            to=to,
            subject=subject,
            text=self._env.get_template(f"{kind}.txt.j2").render(values),
            html=self._env.get_template(f"{kind}.html.j2").render(values),
        )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500
    return isinstance(
        exc,
        (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
        ),
    )


class Mailer:
    def __init__(
        self,
        url: str,
        *,
        sender: str,
        timeout_s: float,
        attempts: int,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self._tls = parts.scheme == "smtps"
        self._sender = sender
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._username = username
        self._password = password

    async def send(self, email: Email, *, message_id: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        # one id per event: a relay or a reader can tell a resend of the same email
        message["Message-ID"] = f"<{message_id}@emporium.local>"
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_exception(_transient),
            reraise=True,
        ):
            with attempt:
                await aiosmtplib.send(
                    message,
                    hostname=self._host,
                    port=self._port,
                    use_tls=self._tls,
                    username=self._username,
                    password=self._password,
                    timeout=self._timeout_s,
                )
