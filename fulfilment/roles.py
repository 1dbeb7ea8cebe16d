"""What each staff role may do with fulfilment plans, bundles and notices.

Found by ``compliance.roles``, as ``periodic.py`` is.

Support agents have nothing here.
"""

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER

ROLE_PERMISSIONS = {
    COMPLIANCE_OFFICER: ["fulfilment.*"],
    AUDITOR: ["fulfilment.view_*"],
}
