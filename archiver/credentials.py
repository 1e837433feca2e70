"""Credentials named by the config's ``*_env`` keys: an environment variable, or a systemd credential.

A key such as ``token_env = "CITY_FB_TOKEN"`` names where the secret is: the environment
variable ``CITY_FB_TOKEN``, or else the file ``CITY_FB_TOKEN`` in ``$CREDENTIALS_DIRECTORY``
(systemd's ``LoadCredential=CITY_FB_TOKEN:/path``), or ``archiver_CITY_FB_TOKEN`` there (what
the shipped units' ``LoadCredential=archiver:/etc/archiver/credentials`` makes of every file
in that folder). Readable by the service alone, never in its environment. The config's
validation allows only variable-like names, so a name never leaves that folder.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp(); _ = open(os.path.join(folder, "DOC_TOKEN"), "w").write("s3cret\\n")
>>> os.environ["CREDENTIALS_DIRECTORY"] = folder
>>> credential("DOC_TOKEN"), credential("DOC_MISSING")
('s3cret', None)
>>> del os.environ["CREDENTIALS_DIRECTORY"]
"""

from __future__ import annotations

import os
from pathlib import Path

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
FOLDER_PREFIX = "archiver_"  # systemd names the files of a LoadCredential=archiver:FOLDER so


def credential(name: str) -> str | None:
    """The secret named ``name``: its environment variable, else its systemd credential file."""
    value = os.environ.get(name)
    if value:
        return value
    folder = os.environ.get(CREDENTIALS_DIRECTORY)
    if not folder or not name or "/" in name or name.startswith("."):
        return None
    for candidate in (name, FOLDER_PREFIX + name):
        try:
            text = (Path(folder) / candidate).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        return text.rstrip("\r\n") or None
    return None


def where(name: str, named_in: str = "") -> str:
    """Where ``name`` was looked for, for an error message (``named_in``: " (named in [storage])")."""
    message = f"environment variable {name}{named_in} is not set"
    if os.environ.get(CREDENTIALS_DIRECTORY):
        message += f", nor is there a credential {name} in $CREDENTIALS_DIRECTORY"
    return message
