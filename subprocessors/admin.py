"""Admin of the subprocessor register: a thin interface over ``subprocessors.services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Max, Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from compliance.admin_base import AuditedAdmin, csv_response
from security.models import AccessEvent
from security.services import access_event_record
from subprocessors.models import (
    AdequacyDecision,
    ChangeNoticeDelivery,
    ChangeObjection,
    CustomerContract,
    DataProcessingAgreement,
    ExpiryReminder,
    NoticeSubscriber,
    ProcessingLocation,
    RegisterDigest,
    SecurityAttestation,
    Subprocessor,
    SubprocessorChange,
    long_date,
)
from subprocessors.selectors import (
    ATTENTION,
    TRANSFER_CSV_HEADER,
    subprocessors_needing_attention,
    transfer_csv_rows,
    transfer_report,
)
from subprocessors.services import changes as change_services
from subprocessors.services import register as register_services
from subprocessors.services.subscribers import notice_subscriber_unsubscribe_by_staff

# ------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------


@admin.register(AdequacyDecision)
class AdequacyDecisionAdmin(AuditedAdmin):
    list_display = ["country", "scope", "reference", "valid_until"]
    list_filter = ["scope"]
    search_fields = ["country", "reference", "notes"]


@admin.register(CustomerContract)
class CustomerContractAdmin(AuditedAdmin):
    list_display = ["name", "reference", "notice_days", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "reference"]
    readonly_fields = ["required_notice"]

    @admin.display(description="Notice every change must give now")
    def required_notice(self, obj):
        return f"{change_services.required_notice_days()} days (the longest of the default and active contracts)"


def _record_export(request) -> None:
    access_event_record(
        actor=request.user, action=AccessEvent.Action.EXPORTED_RECORDS, request=request, detail="transfer report"
    )


# ------------------------------------------------------------------------------
# Subprocessors, with locations, DPAs and attestations inline
# ------------------------------------------------------------------------------


class ProcessingLocationInline(admin.TabularInline):
    model = ProcessingLocation
    extra = 0
    fields = ["country", "mechanism", "scc_module", "mechanism_reference", "description", "is_pending"]
    readonly_fields = ["is_pending"]


class DPAForm(forms.ModelForm):
    class Meta:
        model = DataProcessingAgreement
        fields = ["version", "signed_on", "review_on", "document", "includes_sccs", "notes"]
        # A plain file input: the stored file has no public URL to link to.
        widgets = {"document": forms.FileInput(attrs={"accept": "application/pdf"})}

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):  # a new upload (an unchanged field holds the stored file)
            try:
                register_services.dpa_document_check(document)
            except ValidationError as error:
                raise ValidationError(error.message_dict["document"]) from None
        return document


class DPAInline(admin.StackedInline):
    model = DataProcessingAgreement
    form = DPAForm
    extra = 0
    fields = [("version", "signed_on", "review_on"), ("document", "document_download"), "includes_sccs", "notes"]
    readonly_fields = ["document_download"]

    @admin.display(description="Signed document")
    def document_download(self, obj):
        if not obj or not obj.pk or not obj.document:
            return "No document uploaded"
        url = reverse("admin:subprocessors_dataprocessingagreement_document", args=[obj.pk])
        return format_html('<a href="{}">Download the signed DPA</a>', url)


class AttestationInline(admin.TabularInline):
    model = SecurityAttestation
    extra = 0
    fields = ["kind", "issued_on", "expires_on", "issuer", "reference"]


class SubprocessorForm(forms.ModelForm):
    class Meta:
        model = Subprocessor
        exclude: list[str] = []  # every editable field; the admin's fieldsets pick them

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            try:
                register_services.subprocessor_scope_check(
                    subprocessor=self.instance,
                    purposes=cleaned.get("purposes") or [],
                    data_categories=cleaned.get("data_categories") or [],
                )
            except ValidationError as error:
                for field_name, errors in error.message_dict.items():
                    self.add_error(field_name, errors)
        return cleaned


class AttentionFilter(admin.SimpleListFilter):
    """The dashboard's register warnings, each one click from the vendors behind it."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return list(ATTENTION.items())

    def queryset(self, request, queryset):
        if self.value() in ATTENTION:
            return queryset.filter(pk__in=subprocessors_needing_attention(self.value()).values("pk"))
        return queryset


@admin.register(Subprocessor)
class SubprocessorAdmin(AuditedAdmin):
    form = SubprocessorForm
    list_display = [
        "__str__",
        "category",
        "status",
        "risk_rating",
        "internal_owner",
        "countries",
        "dpa_review_on",
        "attestation_expires_on",
    ]
    list_filter = [AttentionFilter, "status", "category", "risk_rating", "data_categories"]
    list_select_related = ["internal_owner"]
    search_fields = ["legal_name", "trading_name", "service_description"]
    prepopulated_fields = {"slug": ["legal_name"]}
    filter_horizontal = ["purposes", "data_categories", "subject_types", "processing_activities", "systems_of_record"]
    readonly_fields = ["status", "active_since", "retired_on", "created_at", "updated_at", "changes_summary"]
    inlines = [ProcessingLocationInline, DPAInline, AttestationInline]
    actions = ["drop_proposal", "export_transfer_report"]
    change_list_template = "subprocessors/admin/subprocessor_change_list.html"
    fieldsets = [
        (
            None,
            {"fields": ["legal_name", "trading_name", "slug", "website", "category", "service_description"]},
        ),
        (
            "What it processes (public)",
            {
                "fields": ["purposes", "data_categories", "subject_types"],
                "description": "Once customers see a subprocessor, a new purpose or data category is announced "
                "as a change; removing one is always allowed.",
            },
        ),
        ("Record of processing and data map", {"fields": ["processing_activities", "systems_of_record"]}),
        (
            "Internal",
            {"fields": ["risk_rating", "internal_owner", "privacy_contact_email", "erasure_webhook_url", "notes"]},
        ),
        (
            "Lifecycle",
            {
                "fields": ["status", "active_since", "retired_on", "changes_summary", "created_at", "updated_at"],
                "description": "The status moves only through change notices (see Subprocessor changes).",
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _dpa_review_on=Max("dpas__review_on"),
                _attestation_expires_on=Max("attestations__expires_on"),
            )
            .prefetch_related("locations")
        )

    @admin.display(description="Locations")
    def countries(self, obj):
        return ", ".join(sorted({loc.country.code for loc in obj.locations.all()}))

    @admin.display(description="DPA review", ordering="_dpa_review_on")
    def dpa_review_on(self, obj):
        if obj._dpa_review_on is None:
            return "-"
        text = date_format(obj._dpa_review_on)
        if obj._dpa_review_on < timezone.localdate():
            return format_html('<strong class="sla-overdue" style="color:#ba2121">{} (overdue)</strong>', text)
        return text

    @admin.display(description="Latest attestation expiry", ordering="_attestation_expires_on")
    def attestation_expires_on(self, obj):
        return obj._attestation_expires_on

    @admin.display(description="Change notices")
    def changes_summary(self, obj):
        if not obj or not obj.pk:
            return "Save the subprocessor, then announce its addition under Subprocessor changes."
        changes = obj.changes.order_by("-announced_at")
        if not changes:
            return "None yet."
        return format_html_join(
            "",
            '<div><a href="{}">{}</a> ({})</div>',
            (
                (reverse("admin:subprocessors_subprocessorchange_change", args=[c.pk]), c, c.get_status_display())
                for c in changes
            ),
        )

    def save_model(self, request, obj, form, change):
        register_services.subprocessor_save(subprocessor=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            if isinstance(obj, ProcessingLocation):
                register_services.processing_location_delete(location=obj, actor=request.user)
            elif isinstance(obj, DataProcessingAgreement):
                register_services.dpa_delete(dpa=obj, actor=request.user)
            else:
                obj.delete()
        for obj in instances:
            if isinstance(obj, ProcessingLocation):
                register_services.processing_location_save(location=obj, actor=request.user)
            elif isinstance(obj, DataProcessingAgreement):
                register_services.dpa_save(dpa=obj, actor=request.user)
            elif isinstance(obj, SecurityAttestation):
                register_services.attestation_save(attestation=obj, actor=request.user)
        formset.save_m2m()

    @admin.action(description="Drop the selected proposals (retire before announcement)", permissions=["change"])
    def drop_proposal(self, request, queryset):
        for sub in queryset:
            try:
                register_services.subprocessor_proposal_drop(subprocessor=sub, actor=request.user)
            except ValidationError as error:
                self.report_domain_error(request, error)
            else:
                self.message_user(request, f"{sub} dropped.", messages.SUCCESS)

    @admin.action(description="Export the transfer report (CSV)", permissions=["view"])
    def export_transfer_report(self, request, queryset):
        _record_export(request)
        return csv_response("transfer-report.csv", TRANSFER_CSV_HEADER, transfer_csv_rows(transfer_report()))

    def get_urls(self):
        urls = [
            path(
                "transfer-report/",
                self.admin_site.admin_view(self.transfer_report_view),
                name="subprocessors_subprocessor_transfer_report",
            ),
            path(
                "dpa/<int:pk>/document/",
                self.admin_site.admin_view(self.dpa_document_view),
                name="subprocessors_dataprocessingagreement_document",
            ),
        ]
        return urls + super().get_urls()

    def transfer_report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = transfer_report()
        if request.GET.get("format") == "csv":
            _record_export(request)
            return csv_response("transfer-report.csv", TRANSFER_CSV_HEADER, transfer_csv_rows(report))
        context = {
            **self.admin_site.each_context(request),
            "title": "Transfer report",
            "opts": self.model._meta,
            "report": report,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "subprocessors/admin/transfer_report.html", context)

    def dpa_document_view(self, request, pk: int):
        if not request.user.has_perm("subprocessors.view_dataprocessingagreement"):
            raise PermissionDenied
        dpa = DataProcessingAgreement.objects.select_related("subprocessor").filter(pk=pk).first()
        if dpa is None or not dpa.document:
            raise Http404("No document")
        filename = f"dpa-{dpa.subprocessor.slug}-{dpa.version}.pdf".replace(" ", "-")
        return FileResponse(dpa.document.open("rb"), as_attachment=True, filename=filename)


# ------------------------------------------------------------------------------
# Change notices and objections
# ------------------------------------------------------------------------------


class SubprocessorChangeForm(forms.ModelForm):
    class Meta:
        model = SubprocessorChange
        fields = ["subprocessor", "kind", "location", "purpose", "data_category", "summary", "effective_on"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "effective_on" in self.fields:
            earliest = change_services.earliest_effective_date()
            self.fields["effective_on"].initial = earliest
            self.fields[
                "effective_on"
            ].help_text = (
                f"At least {change_services.required_notice_days()} days after today: {long_date(earliest)} or later."
            )
        if "location" in self.fields:
            self.fields["location"].queryset = ProcessingLocation.objects.filter(is_pending=True).select_related(
                "subprocessor"
            )
            self.fields["location"].help_text = "For a new location: add it to the subprocessor first (it is pending)."

    def clean(self):
        cleaned = super().clean()
        subprocessor = cleaned.get("subprocessor")
        kind = cleaned.get("kind")
        if subprocessor is None or not kind:
            return cleaned
        try:
            change_services.change_announce_check(
                subprocessor=subprocessor,
                kind=kind,
                effective_on=cleaned.get("effective_on"),
                location=cleaned.get("location"),
                purpose=cleaned.get("purpose"),
                data_category=cleaned.get("data_category"),
            )
        except ValidationError as error:
            for field_name, errors in error.message_dict.items():
                self.add_error(field_name if field_name in self.fields else None, errors)
        return cleaned


class ObjectionInline(admin.TabularInline):
    model = ChangeObjection
    extra = 0
    fields = ["link", "customer", "received_on", "outcome", "resolved_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Objection")
    def link(self, obj):
        url = reverse("admin:subprocessors_changeobjection_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)


class WithdrawForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Customers were told; say why.")


@admin.register(SubprocessorChange)
class SubprocessorChangeAdmin(AuditedAdmin):
    form = SubprocessorChangeForm
    list_display = [
        "subprocessor",
        "kind",
        "target",
        "status",
        "announced_on",
        "effective_on",
        "open_objections",
        "notices_sent",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["subprocessor", "location", "purpose", "data_category"]
    search_fields = ["subprocessor__legal_name", "subprocessor__trading_name", "summary"]
    date_hierarchy = "effective_on"
    inlines = [ObjectionInline]
    actions = ["make_effective", "withdraw"]
    readonly_fields = [
        "status",
        "announced_at",
        "announced_by",
        "notice_days",
        "effective_at",
        "withdrawn_at",
        "withdrawal_reason",
        "activation_check",
        "delivery_summary",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _open_objections=Count("objections", filter=Q(objections__outcome=""), distinct=True),
                _notices_sent=Count("deliveries", filter=Q(deliveries__sent_at__isnull=False), distinct=True),
            )
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["subprocessor", "kind", "location", "purpose", "data_category", "summary", "effective_on"]
        return [
            "subprocessor",
            "kind",
            "target",
            "summary",
            "status",
            "activation_check",
            "announced_at",
            "announced_by",
            "notice_days",
            "effective_on",
            "effective_at",
            "withdrawn_at",
            "withdrawal_reason",
            "delivery_summary",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # What customers were told cannot be edited afterwards: withdraw and announce again.
        return self.get_fields(request, obj)

    def get_inlines(self, request, obj):
        return [ObjectionInline] if obj is not None else []

    @admin.display(description="Adds")
    def target(self, obj):
        return obj.target_label or "—"

    @admin.display(description="Open objections", ordering="_open_objections")
    def open_objections(self, obj):
        return obj._open_objections

    @admin.display(description="Notices sent", ordering="_notices_sent")
    def notices_sent(self, obj):
        return obj._notices_sent

    @admin.display(description="Can it take effect?")
    def activation_check(self, obj):
        if obj.status != SubprocessorChange.Status.ANNOUNCED:
            return obj.get_status_display()
        blockers = change_services.change_activation_blockers(obj)
        if not blockers:
            return "Yes: the notice period is over and no objection is open."
        return format_html_join("", "<div>{}</div>", ((b,) for b in blockers))

    @admin.display(description="Notices to subscribers")
    def delivery_summary(self, obj):
        sent = obj.deliveries.filter(sent_at__isnull=False).count()
        failing = obj.deliveries.filter(sent_at__isnull=True, attempts__gt=0).count()
        text = f"{sent} sent"
        if failing:
            text += f", {failing} failing (retried by the worker)"
        if obj.status == SubprocessorChange.Status.WITHDRAWN:
            told = obj.deliveries.filter(withdrawal_sent_at__isnull=False).count()
            text += f"; withdrawal: {told} told"
        return text

    def has_delete_permission(self, request, obj=None):
        return False  # customers were told: a change is withdrawn (and they are told again), never deleted

    def add_view(self, request, form_url="", extra_context=None):
        """Announcing emails every subscriber: a valid form first shows what will go out, to whom."""
        if request.method == "POST" and "_confirm" not in request.POST:
            form = self.get_form(request)(request.POST)
            if form.is_valid():
                return self._announce_confirmation(request, form)
        return super().add_view(request, form_url, extra_context)

    def _announce_confirmation(self, request, form):
        data = form.cleaned_data
        summary = change_services.change_announce_summary(subprocessor=data["subprocessor"], kind=data["kind"])
        target = data.get("location") or data.get("purpose") or data.get("data_category")
        return TemplateResponse(
            request,
            "subprocessors/admin/announce_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": "Announce this change?",
                "opts": self.model._meta,
                "form": form,
                "data": data,
                "kind_label": SubprocessorChange.Kind(data["kind"]).label,
                "target": target,
                "summary": summary,
                "notice_days": change_services.required_notice_days(),
                "add_url": reverse("admin:subprocessors_subprocessorchange_add"),
                "back_url": reverse("admin:subprocessors_subprocessorchange_add")
                + "?"
                + urlencode({name: value for name, value in form.data.items() if name in form.fields and value}),
            },
        )

    def save_model(self, request, obj, form, change):
        if change:
            return  # everything is read-only once announced
        created = change_services.subprocessor_change_announce(
            subprocessor=form.cleaned_data["subprocessor"],
            kind=form.cleaned_data["kind"],
            summary=form.cleaned_data["summary"],
            effective_on=form.cleaned_data["effective_on"],
            location=form.cleaned_data.get("location"),
            purpose=form.cleaned_data.get("purpose"),
            data_category=form.cleaned_data.get("data_category"),
            actor=request.user,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        pass  # the objection inline is read-only

    @admin.action(description="Make the selected changes effective now", permissions=["change"])
    def make_effective(self, request, queryset):
        for item in queryset:
            try:
                change_services.subprocessor_change_activate(change=item, actor=request.user)
            except ValidationError as error:
                self.message_user(
                    request, f"{item} cannot take effect: " + " ".join(error.messages), level=messages.ERROR
                )
            else:
                self.message_user(request, f"{item} is now effective.", messages.SUCCESS)

    @admin.action(description="Withdraw the selected changes…", permissions=["change"])
    def withdraw(self, request, queryset):
        form = WithdrawForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for item in queryset:
                try:
                    change_services.subprocessor_change_withdraw(
                        change=item, reason=form.cleaned_data["reason"], actor=request.user
                    )
                except ValidationError as error:
                    self.report_domain_error(request, error)
                else:
                    self.message_user(request, f"{item} withdrawn.", messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": "Withdraw changes",
            "opts": self.model._meta,
            "changes": [
                (item, change_services.change_withdrawal_summary(change=item))
                for item in queryset.select_related("subprocessor")
            ],
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "subprocessors/admin/withdraw_changes.html", context)


class ObjectionForm(forms.ModelForm):
    resolve_outcome = forms.ChoiceField(
        choices=[("", "— still open —"), *ChangeObjection.Outcome.choices], required=False, label="Resolve as"
    )
    resolve_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="How it was resolved"
    )

    class Meta:
        model = ChangeObjection
        fields = ["change", "customer", "received_on", "grounds"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "change" in self.fields:
            self.fields["change"].queryset = SubprocessorChange.objects.filter(
                status=SubprocessorChange.Status.ANNOUNCED
            ).select_related("subprocessor")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            change = cleaned.get("change")
            if change is not None:
                try:
                    change_services.change_objection_check(
                        change=change, customer=cleaned.get("customer"), received_on=cleaned.get("received_on")
                    )
                except ValidationError as error:
                    for field_name, errors in error.message_dict.items():
                        self.add_error(field_name, errors)
        elif cleaned.get("resolve_outcome") and not (cleaned.get("resolve_note") or "").strip():
            self.add_error("resolve_note", "Say how the objection was resolved.")
        return cleaned


@admin.register(ChangeObjection)
class ChangeObjectionAdmin(AuditedAdmin):
    form = ObjectionForm
    list_display = ["__str__", "customer", "received_on", "state", "outcome", "resolved_at"]
    list_filter = ["outcome", "change__kind"]
    list_select_related = ["customer", "change", "change__subprocessor"]
    search_fields = ["customer__name", "grounds", "change__subprocessor__legal_name"]
    autocomplete_fields = ["customer"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["change", "customer", "received_on", "grounds"]
        fields = ["change", "customer", "received_on", "grounds", "recorded_by", "outcome", "resolution"]
        fields += ["resolved_at", "resolved_by"]
        if obj.is_open:
            fields += ["resolve_outcome", "resolve_note"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["change", "customer", "received_on", "grounds", "recorded_by", "outcome", "resolution"] + [
            "resolved_at",
            "resolved_by",
        ]

    @admin.display(description="State", boolean=False)
    def state(self, obj):
        return "open" if obj.is_open else "resolved"

    def save_model(self, request, obj, form, change):
        if not change:
            created = change_services.change_objection_record(
                change=form.cleaned_data["change"],
                customer=form.cleaned_data["customer"],
                received_on=form.cleaned_data["received_on"],
                grounds=form.cleaned_data["grounds"],
                actor=request.user,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        outcome = form.cleaned_data.get("resolve_outcome")
        if outcome:
            try:
                change_services.change_objection_resolve(
                    objection=obj, outcome=outcome, resolution=form.cleaned_data["resolve_note"], actor=request.user
                )
            except ValidationError as error:
                self.report_domain_error(request, error)
            obj.refresh_from_db()


# ------------------------------------------------------------------------------
# Subscribers and evidence of what was sent
# ------------------------------------------------------------------------------


class SubscriberStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Waiting for confirmation"), ("active", "Subscribed"), ("unsubscribed", "Unsubscribed")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(confirmed_at__isnull=True, unsubscribed_at__isnull=True)
        if self.value() == "active":
            return queryset.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        if self.value() == "unsubscribed":
            return queryset.filter(unsubscribed_at__isnull=False)
        return queryset


@admin.register(NoticeSubscriber)
class NoticeSubscriberAdmin(AuditedAdmin):
    list_display = ["email", "state", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = [SubscriberStateFilter]
    search_fields = ["email"]
    fields = ["email", "state", "created_at", "confirmation_sent_at", "confirmed_at", "unsubscribed_at"]
    readonly_fields = fields
    actions = ["unsubscribe"]

    def has_add_permission(self, request):
        return False  # subscriptions start from the public form (double opt-in), never from staff

    @admin.display(description="State")
    def state(self, obj):
        if obj.unsubscribed_at:
            return "unsubscribed"
        return "subscribed" if obj.confirmed_at else "waiting for confirmation"

    @admin.action(description="Unsubscribe the selected addresses", permissions=["change"])
    def unsubscribe(self, request, queryset):
        for subscriber in queryset:
            notice_subscriber_unsubscribe_by_staff(subscriber=subscriber, actor=request.user)
        self.message_user(request, f"{queryset.count()} unsubscribed.", messages.SUCCESS)


class ReadOnlyEvidenceAdmin(admin.ModelAdmin):
    """Records the workers write as evidence: visible, never edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChangeNoticeDelivery)
class ChangeNoticeDeliveryAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["change", "subscriber", "sent_at", "attempts", "last_error"]
    list_filter = ["sent_at", "change__kind"]
    list_select_related = ["change", "change__subprocessor", "subscriber"]
    search_fields = ["subscriber__email"]


@admin.register(ExpiryReminder)
class ExpiryReminderAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["__str__", "kind", "item", "due_on", "threshold_days", "sent_at", "recipient_count"]
    list_filter = ["kind", "threshold_days"]
    list_select_related = ["dpa__subprocessor", "attestation__subprocessor"]

    @admin.display(description="Item")
    def item(self, obj):
        return obj.dpa or obj.attestation


@admin.register(RegisterDigest)
class RegisterDigestAdmin(ReadOnlyEvidenceAdmin):
    list_display = ["week_start", "sent_at", "recipient_count", "item_count"]
