"""Admin forms. They validate through the services' check functions, so a refused
input comes back as a form error next to the field, with what was typed kept."""

from __future__ import annotations

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance.models import Regime, Right
from requests_app.models import (
    APPEAL_LETTERS,
    Appeal,
    AppealOutcome,
    Channel,
    IdentityMethod,
    IdentityOutcome,
    LetterTemplate,
    Outcome,
    RefusalGround,
    RequestLine,
    RightsRequest,
)
from requests_app.selectors import request_handlers
from requests_app.services import (
    request_line_complete_check,
    rights_request_check,
    rights_request_update_check,
)
from requests_app.services.requests import MANUAL_EVENT_TYPES
from requests_app.validators import clean_single_line


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Attach a service's ``ValidationError`` to the form's fields (or the form as a whole).

    A field that already failed its own validation keeps that message only.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        target = field if field in form.fields else None
        if target is not None and target in form.errors:
            continue
        for message in messages:
            form.add_error(target, message)


class RightsRequestAddForm(forms.ModelForm):
    """The short intake form support agents use; officers get assignee and subject type too."""

    rights = forms.ModelMultipleChoiceField(
        queryset=Right.objects.order_by("display_order"),
        widget=forms.CheckboxSelectMultiple,
        help_text="Accepted when any governing regime grants it (the controller's own, the primary regime, "
        "the requester's country or state).",
    )
    received_at = forms.SplitDateTimeField(
        widget=widgets.AdminSplitDateTime, help_text="When the request reached us (not in the future)."
    )

    class Meta:
        model = RightsRequest
        fields = [
            "requester_name",
            "requester_email",
            "account_ref",
            "requester_country",
            "requester_region",
            "regime",
            "rights",
            "channel",
            "received_at",
            "description",
        ]
        labels = {"description": "Notes / what the requester wrote", "regime": "Primary regime"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regime"].queryset = Regime.objects.filter(is_active=True).order_by("name")
        self.fields["regime"].required = False
        self.fields[
            "regime"
        ].help_text = "Optional: derived from the country and state when left empty. Every applicable regime governs."
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = request_handlers()
            self.fields["assignee"].help_text = "Support agents and compliance officers."
        if not self.is_bound:
            self.initial.setdefault("received_at", timezone.localtime().replace(second=0, microsecond=0))

    def clean(self):
        data = super().clean()
        try:
            rights_request_check(
                requester_name=data.get("requester_name", ""),
                requester_email=data.get("requester_email", ""),
                regime=data.get("regime"),
                rights=list(data.get("rights") or []),
                channel=data.get("channel", ""),
                received_at=data.get("received_at"),
                requester_country=data.get("requester_country", ""),
                requester_region=data.get("requester_region", ""),
            )
        except ValidationError as error:
            add_service_errors(self, error)
        return data


class RightsRequestFullAddForm(RightsRequestAddForm):
    class Meta(RightsRequestAddForm.Meta):
        fields = [*RightsRequestAddForm.Meta.fields, "subject_type", "assignee"]


class RightsRequestChangeForm(forms.ModelForm):
    """Compliance staff correct the details; the deadlines follow."""

    class Meta:
        model = RightsRequest
        fields = [
            "requester_name",
            "requester_email",
            "account_ref",
            "subject_type",
            "regime",
            "channel",
            "received_at",
            "description",
            "assignee",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = request_handlers()

    def clean(self):
        data = super().clean()
        if self.errors or self.instance.pk is None:
            return data
        try:
            rights_request_update_check(
                request=RightsRequest.objects.get(pk=self.instance.pk),
                **{name: data[name] for name in self.changed_data if name in data},
            )
        except ValidationError as error:
            add_service_errors(self, error)
        return data


class RequestLineCompleteForm(forms.ModelForm):
    outcome = forms.ChoiceField(choices=[("", "---------"), *Outcome.choices])
    refusal_ground = forms.ChoiceField(choices=[("", "---------"), *RefusalGround.choices], required=False)

    class Meta:
        model = RequestLine
        fields = ["outcome", "outcome_reason", "refusal_ground", "evidence_note"]

    def clean(self):
        data = super().clean()
        if self.errors or self.instance.pk is None:
            return data
        line = RequestLine.objects.select_related("request__regime", "right").get(pk=self.instance.pk)
        try:
            request_line_complete_check(
                line=line,
                outcome=data.get("outcome", ""),
                reason=data.get("outcome_reason", ""),
                refusal_ground=data.get("refusal_ground", ""),
                evidence_note=data.get("evidence_note", ""),
            )
        except ValidationError as error:
            add_service_errors(self, error)
        return data


class EventForm(forms.Form):
    type = forms.ChoiceField(choices=[])
    at = forms.DateField(
        widget=widgets.AdminDateWidget, help_text="The day it happened (not in the future, not before receipt)."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required for an extension: the requester is told it.",
    )
    extended_to = forms.DateField(
        widget=widgets.AdminDateWidget,
        required=False,
        help_text="Extension under a regime where we set the new date (Swiss FADP): the date the requester is told.",
    )

    def __init__(self, *args, can_decide: bool, **kwargs):
        super().__init__(*args, **kwargs)
        types = [t for t in MANUAL_EVENT_TYPES if can_decide or t != "extension_notified"]
        self.fields["type"].choices = [(t.value, t.label) for t in types]
        self.fields["at"].initial = timezone.localdate()


class LetterForm(forms.Form):
    template = forms.ChoiceField(choices=[])
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Extension: the reason. Clarification: the question to ask.",
    )
    subject = forms.CharField(max_length=255, required=False)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 22, "cols": 90}),
        required=False,
        help_text="Edit the text before sending if needed; the copy sent is stored on the request.",
    )

    def __init__(self, *args, can_decide: bool, **kwargs):
        super().__init__(*args, **kwargs)
        from requests_app.services.communications import DECISION_TEMPLATES

        self.fields["template"].choices = [
            (value, label)
            for value, label in LetterTemplate.choices
            if (can_decide or value not in DECISION_TEMPLATES) and value not in APPEAL_LETTERS
        ]

    def clean_subject(self) -> str:
        return clean_single_line(self.cleaned_data.get("subject", ""), label="The subject")

    def clean(self):
        """A letter whose required part is empty is neither previewed nor sent: the form says what is missing."""
        from requests_app.services.communications import REQUIRED_REASON

        data = super().clean()
        template = data.get("template")
        if template in REQUIRED_REASON and not (data.get("reason") or "").strip():
            self.add_error("reason", REQUIRED_REASON[template])
        return data


class IdentityForm(forms.Form):
    identity_method = forms.ChoiceField(choices=[("", "---------"), *IdentityMethod.choices], required=False)
    identity_outcome = forms.ChoiceField(
        choices=[(value, label) for value, label in IdentityOutcome.choices if value != IdentityOutcome.PENDING]
    )
    note = forms.CharField(max_length=255, required=False, help_text="No identity document numbers or copies.")


class RegimeChangeForm(forms.Form):
    """Add or drop a regime governing a request, with the reason kept in the ledger."""

    action = forms.ChoiceField(choices=[("add", "Add this regime"), ("drop", "Drop this regime")])
    regime = forms.ModelChoiceField(queryset=Regime.objects.order_by("name"))
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the request's ledger.")


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class AppealLogForm(forms.Form):
    """Log a requester's appeal of a refusal (support agents and officers)."""

    lines = forms.ModelMultipleChoiceField(
        queryset=RequestLine.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The refused or partly fulfilled lines appealed; all of them when none is ticked.",
    )
    channel = forms.ChoiceField(
        choices=Channel.choices,
        initial=Channel.EMAIL,
        help_text="Email: a reply to the refusal letter or a message to the address it gives.",
    )
    received_at = forms.SplitDateTimeField(
        widget=widgets.AdminSplitDateTime, help_text="When the appeal reached us (not in the future)."
    )
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="What the requester wrote: why they disagree.",
    )

    def __init__(self, *args, request: RightsRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lines"].queryset = request.lines.select_related("right").filter(
            status=RequestLine.Status.COMPLETED, outcome__in=[Outcome.REFUSED, Outcome.PARTIALLY_FULFILLED]
        )
        self.fields["lines"].label_from_instance = lambda line: f"{line.right.name} ({line.get_outcome_display()})"
        if not self.is_bound:
            self.initial.setdefault("received_at", timezone.localtime().replace(second=0, microsecond=0))


class AppealAssignForm(forms.ModelForm):
    """The appeal's change form: officers assign it; everything else is computed or a step."""

    class Meta:
        model = Appeal
        fields = ["assignee"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = request_handlers()


class AppealExtendForm(forms.Form):
    at = forms.DateField(
        widget=widgets.AdminDateWidget,
        label="Notified on",
        help_text="On or before the appeal's due date. The requester is sent the notice with the reason.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="The requester is told it.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].initial = timezone.localdate()


class AppealDecideForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("", "---------"), *AppealOutcome.choices])
    outcome_reason = forms.CharField(
        label="Reasons",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,  # the service says why they are needed
        help_text="Sent to the requester in plain words; where the refusal stands the letter adds the Attorney "
        "General's complaint route.",
    )
    reversed_lines = forms.ModelMultipleChoiceField(
        queryset=RequestLine.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Partly reversed: the lines reopened (each gets a new due date). Reversed reopens them all.",
    )

    def __init__(self, *args, appeal: Appeal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reversed_lines"].queryset = appeal.lines.select_related("right")
        self.fields["reversed_lines"].label_from_instance = lambda line: line.right.name
