"""The Atom feed of announced and effective subprocessor changes."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from subprocessors.models import SubprocessorChange, long_date
from subprocessors.selectors import feed_changes


class SubprocessorChangesFeed(Feed):
    feed_type = Atom1Feed
    title = "Studio subprocessor changes"
    subtitle = (
        "Subprocessors Studio adds or removes, new processing locations, purposes and data categories, "
        "announced before they take effect (GDPR Art. 28(2))."
    )
    author_name = "Studio"
    item_guid_is_permalink = False

    def link(self):
        return reverse("subprocessors:list")

    def feed_url(self):
        return reverse("subprocessors:feed")

    def feed_guid(self):
        return f"tag:{urlsplit(settings.SITE_URL).hostname},2026:subprocessor-changes"

    def items(self):
        return feed_changes()

    def item_title(self, item: SubprocessorChange) -> str:
        target = f" ({item.target_label})" if item.target_label else ""
        state = "took effect" if item.status == SubprocessorChange.Status.EFFECTIVE else "takes effect"
        return f"{item.get_kind_display()}: {item.subprocessor}{target}, {state} {long_date(item.effective_on)}"

    def item_description(self, item: SubprocessorChange) -> str:
        if item.status == SubprocessorChange.Status.EFFECTIVE:
            when = f"This change took effect on {long_date(item.effective_on)}."
        else:
            when = (
                f"This change takes effect on {long_date(item.effective_on)}. Customers may object before then by "
                f"writing to {settings.PRIVACY_CONTACT_EMAIL}."
            )
        return f"{item.summary}\n\n{when}"

    def item_link(self, item: SubprocessorChange) -> str:
        return f"{reverse('subprocessors:list')}#change-{item.pk}"

    def item_guid(self, item: SubprocessorChange) -> str:
        host = urlsplit(settings.SITE_URL).hostname
        return f"tag:{host},{item.announced_on:%Y-%m-%d}:subprocessor-change-{item.pk}"

    def item_pubdate(self, item: SubprocessorChange):
        return item.announced_at

    def item_updateddate(self, item: SubprocessorChange):
        return item.effective_at or item.announced_at

    def item_categories(self, item: SubprocessorChange):
        return [item.kind]
