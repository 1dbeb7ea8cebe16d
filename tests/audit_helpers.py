"""Helpers of the access audit tests: find the event a page or action recorded, post an admin form as shown."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from security.models import AccessEvent


def events(action: str, obj=None):
    found = AccessEvent.objects.filter(action=action)
    if obj is not None:
        found = found.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
    return found


def the_event(action: str, obj, actor) -> AccessEvent:
    """The one event of ``action`` on ``obj``, by ``actor``, with the client's address."""
    event = events(action, obj).get()
    assert event.actor == actor
    assert event.ip_address == "127.0.0.1"
    return event


def admin_form_data(page) -> dict:
    """The change form of an admin page as the browser would post it unchanged (inlines included)."""
    data: dict = {}

    def add(form, prefix_name):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[prefix_name(name)] = "on" if value is True else value

    add(page.context["adminform"].form, lambda name: name)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for form in formset.forms:
            add(form, form.add_prefix)
    return data
