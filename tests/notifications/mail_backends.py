"""Test mail backends: one whose first message to an address fails the way a dropped SMTP
connection does, and one whose process dies while sending to an address."""

import os
import signal
import smtplib

from django.core.mail.backends import filebased, locmem


class FailOnceBackend(locmem.EmailBackend):
    fail_for: str = ""
    failed: set = set()

    def send_messages(self, messages):
        for message in messages:
            if self.fail_for in message.to and self.fail_for not in FailOnceBackend.failed:
                FailOnceBackend.failed.add(self.fail_for)
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class CrashingFileBackend(filebased.EmailBackend):
    """Django's file backend, except that the process is SIGKILLed (no except, no finally
    runs: a crash) when a message is for the address in $CRASH_FOR."""

    def send_messages(self, messages):
        crash_for = os.environ.get("CRASH_FOR")
        if crash_for and any(crash_for in message.to for message in messages):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().send_messages(messages)
