"""The admin dashboard panel about the viewer's own second factor."""

from __future__ import annotations

from security.selectors import recovery_codes_left, two_factor_required


def two_factor_panel(request):
    user = request.user
    verified = user.is_verified() if hasattr(user, "is_verified") else False
    device = getattr(user, "otp_device", None)
    return {
        "title": "Your sign-in security",
        "template": "security/dashboard_two_factor.html",
        "context": {
            "verified": verified,
            "required": two_factor_required(user),
            "device_name": device.name if device is not None else "",
            "codes_left": recovery_codes_left(user) if verified else 0,
        },
    }
