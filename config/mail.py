"""The file email backend of the demo (``EMAIL_URL=filemail://...``), private to its owner.

Every letter and notice carries a requester's or a customer's address and often their name; Django's
file backend creates the folder and each file with the process's umask (usually ``0755`` and ``0644``),
so every account on the machine could read them. This one, like the private storage
(``PRIVATE_FILE_PERMISSIONS``), makes the folder ``0700`` (an existing one of ours is tightened) and
creates each file ``0600`` whatever the umask.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend


class PrivateFileEmailBackend(EmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        folder = os.path.abspath(file_path or settings.EMAIL_FILE_PATH)
        modes = settings.PRIVATE_FILE_PERMISSIONS
        if not os.path.exists(folder):
            # The mode applies to the last folder only; its parents are the project's own (var/).
            os.makedirs(folder, modes["directory_permissions_mode"], exist_ok=True)
        if os.path.isdir(folder) and os.stat(folder).st_uid == os.getuid():
            os.chmod(folder, modes["directory_permissions_mode"])  # umask-free, and an older 0755 folder too
        super().__init__(*args, file_path=folder, **kwargs)

    def open(self):
        if self.stream is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            descriptor = os.open(
                self._get_filename(), flags, settings.PRIVATE_FILE_PERMISSIONS["file_permissions_mode"]
            )
            self.stream = os.fdopen(descriptor, "ab")
            return True
        return False
