from django import forms

from fulfilment.models import DownloadLink


class DownloadEmailForm(forms.Form):
    email = forms.EmailField(
        label="Your email address", help_text="The address you made the request from.", max_length=254
    )


class DownloadCodeForm(forms.Form):
    code = forms.RegexField(
        label="One-time code", regex=r"^\s*\d{8}\s*$", max_length=20, help_text="The 8-digit code we emailed you."
    )


class WaiveForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text="Why this step will not be done. The requester reads it (their bundle's index, the line's outcome).",
    )


class LinkForm(forms.Form):
    method = forms.ChoiceField(choices=DownloadLink.Method.choices, initial=DownloadLink.Method.EMAIL)
    max_downloads = forms.IntegerField(min_value=1, max_value=20, initial=3)
    days = forms.IntegerField(min_value=1, max_value=30, initial=7, help_text="Never beyond the bundle's expiry.")


class RequestedChangeForm(forms.Form):
    requested_change = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="Requested change")
