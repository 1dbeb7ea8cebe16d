"""A real SMTP server on loopback for tests (aiosmtpd): it accepts mail, or refuses it as a mail server that is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class _Handler:
    def __init__(self) -> None:
        self.refusing = False
        self.refused = 0
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 Mail server temporarily unavailable"
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


class SmtpServer:
    def __init__(self, handler: _Handler, port: int) -> None:
        self._handler = handler
        self.port = port

    @property
    def messages(self) -> list[Message]:
        return self._handler.messages

    @property
    def refused(self) -> int:
        return self._handler.refused

    def refuse(self, refusing: bool = True) -> None:
        self._handler.refusing = refusing

    @staticmethod
    def body(message: Message) -> str:
        return message.get_payload(decode=True).decode()


@contextmanager
def smtp_server(settings) -> Iterator[SmtpServer]:
    """Start the server and point Django's SMTP backend at it for the duration."""
    handler = _Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()
