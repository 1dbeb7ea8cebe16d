"""What each staff role may do with retention rules, holds and runs.

Found by ``compliance.roles``, as ``periodic.py`` is.

Support agents have nothing here.
"""

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER

ROLE_PERMISSIONS = {
    COMPLIANCE_OFFICER: ["retention.*"],
    AUDITOR: ["retention.view_*"],
}
