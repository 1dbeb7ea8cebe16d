"""What each staff role may see of the security records (found by ``compliance.roles``, as ``periodic.py`` is).

Officers and auditors read the access audit; nobody edits it, and second-factor devices, recovery codes
and lockout records are nobody's to browse.
"""

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER

ROLE_PERMISSIONS = {
    COMPLIANCE_OFFICER: ["security.view_accessevent"],
    AUDITOR: ["security.view_accessevent"],
}
