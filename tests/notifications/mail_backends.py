"""A test mail backend: Django's locmem backend, except that the first message to one
address fails the way a dropped SMTP connection does."""

import smtplib

from django.core.mail.backends import locmem


class FailOnceBackend(locmem.EmailBackend):
    fail_for: str = ""
    failed: set = set()

    def send_messages(self, messages):
        for message in messages:
            if self.fail_for in message.to and self.fail_for not in FailOnceBackend.failed:
                FailOnceBackend.failed.add(self.fail_for)
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)
