"""Gunicorn's settings for the web process: access and error log lines without personal data.

Run the web process as ``gunicorn config.wsgi`` from the project folder (gunicorn reads the project's
``gunicorn.conf.py``, which loads this module) or ``gunicorn -c python:config.gunicorn config.wsgi`` from
anywhere. The access log stays off unless asked for (``--access-logfile -``); whatever file it goes to,
its lines are written by ``PrivateLogger``:

- the request line keeps its path and the names of its query parameters, every value ``[redacted]``
  (``?q=<email>`` from an old admin bookmark) and the token of every public link ``[token]``
  (``/data-export/<token>/``), as ``config.log_filters.ScrubRequestLines`` does for Django's own lines;
- no client address, user name, user agent, referrer, header, cookie or environment value (a format asking
  for one gets ``-``): the access audit (``security.AccessEvent``) records addresses where they are needed.

Gunicorn's error log (``Error handling request /path?...``) passes the same scrub.
"""

from __future__ import annotations

from gunicorn import glogging

from config.log_filters import REDACTED, ScrubRequestLines, scrub

__all__ = ["access_log_format", "logger_class", "wsgi_app"]

wsgi_app = "config.wsgi:application"
# Time, request line (scrubbed), status, bytes, duration: the shape of the development server's lines.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'

# Atoms that describe the person rather than the request: never logged.
PERSONAL_ATOMS = ("h", "l", "u", "a", "f")


class PrivateLogger(glogging.Logger):
    """Gunicorn's logger, writing access lines with the request line scrubbed and nothing about the person."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(existing, ScrubRequestLines) for existing in log.filters):
                log.addFilter(ScrubRequestLines())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # Request and response headers ({name}i, {name}o) and environment values ({name}e) are left out.
        safe = {name: value for name, value in atoms.items() if not name.startswith("{")}
        safe.update(dict.fromkeys(PERSONAL_ATOMS, "-"))
        safe["r"] = scrub(str(atoms["r"]))
        safe["U"] = scrub(str(atoms["U"] or ""))
        query = str(atoms["q"] or "")
        safe["q"] = "&".join(pair.split("=", 1)[0] + "=" + REDACTED for pair in query.split("&")) if query else ""
        return safe


logger_class = PrivateLogger
