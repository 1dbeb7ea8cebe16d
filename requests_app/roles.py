"""What each staff role may do with rights requests (found by ``compliance.roles``, as ``periodic.py`` is)."""

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT

ROLE_PERMISSIONS = {
    COMPLIANCE_OFFICER: ["requests_app.*"],
    AUDITOR: ["requests_app.view_*"],
    SUPPORT_AGENT: [
        # Rights requests: log and read them, send acknowledgement, identity and clarification
        # letters, record ledger events, add notes. Closing, refusing, extending and identity
        # decisions need requests_app.decide_request, which only officers hold.
        "requests_app.add_rightsrequest",
        "requests_app.view_rightsrequest",
        "requests_app.view_requestline",
        "requests_app.add_requestevent",
        "requests_app.view_requestevent",
        "requests_app.add_communication",
        "requests_app.view_communication",
        "requests_app.add_requestnote",
        "requests_app.view_requestnote",
        # Appeals of refusals (REGULATIONS §1b): agents log and read them; officers extend and decide.
        "requests_app.add_appeal",
        "requests_app.view_appeal",
    ],
}
