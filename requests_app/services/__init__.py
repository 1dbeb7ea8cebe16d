"""Every write of the rights-request app goes through these services.

``requests`` covers intake, the event ledger, lines and closing; ``appeals`` the US
state appeals of refusals; ``communications``
letters and emails; ``api_clients`` integration tokens; ``notifications`` the
worker jobs' digests, escalations and reminders.
"""

from requests_app.services.api_clients import (
    api_client_authenticate,
    api_client_create,
    api_client_revoke,
    request_event_add_idempotent,
    rights_request_open_idempotent,
)
from requests_app.services.appeals import (
    appeal_assign,
    appeal_decide,
    appeal_decide_check,
    appeal_decide_preview,
    appeal_extend,
    appeal_open,
    appeal_open_check,
    appeal_recompute,
)
from requests_app.services.communications import (
    communication_deliver,
    communication_delivery_fail,
    communication_delivery_record,
    communication_preview,
    communication_render,
    communication_send,
)
from requests_app.services.notifications import (
    digests_send,
    escalations_send,
    identity_reminders_send,
    letter_failed_alert,
    paused_deadlines_refresh,
)
from requests_app.services.requests import (
    request_event_add,
    request_line_complete,
    request_line_complete_check,
    request_note_add,
    rights_request_account_identity_record,
    rights_request_assign,
    rights_request_check,
    rights_request_close,
    rights_request_identity_record,
    rights_request_open,
    rights_request_recompute,
    rights_request_refresh,
    rights_request_regime_add,
    rights_request_regime_drop,
    rights_request_update,
    rights_request_update_check,
)

__all__ = [
    "appeal_assign",
    "appeal_decide",
    "appeal_decide_check",
    "appeal_decide_preview",
    "appeal_extend",
    "appeal_open",
    "appeal_open_check",
    "appeal_recompute",
    "api_client_authenticate",
    "api_client_create",
    "api_client_revoke",
    "communication_deliver",
    "communication_delivery_fail",
    "communication_delivery_record",
    "communication_preview",
    "communication_render",
    "communication_send",
    "digests_send",
    "escalations_send",
    "identity_reminders_send",
    "letter_failed_alert",
    "paused_deadlines_refresh",
    "request_event_add",
    "request_event_add_idempotent",
    "request_line_complete",
    "request_line_complete_check",
    "request_note_add",
    "rights_request_account_identity_record",
    "rights_request_assign",
    "rights_request_check",
    "rights_request_close",
    "rights_request_identity_record",
    "rights_request_open",
    "rights_request_open_idempotent",
    "rights_request_recompute",
    "rights_request_refresh",
    "rights_request_regime_add",
    "rights_request_regime_drop",
    "rights_request_update",
    "rights_request_update_check",
]
