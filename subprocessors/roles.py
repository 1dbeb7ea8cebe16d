"""What each staff role may do with the subprocessor register (found by ``compliance.roles``, as ``periodic.py`` is).

Support agents have nothing here.
"""

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER

ROLE_PERMISSIONS = {
    COMPLIANCE_OFFICER: ["subprocessors.*"],
    AUDITOR: ["subprocessors.view_*"],
}
