from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from requests_app.models import ApiClient
from requests_app.services import api_client_authenticate


def test_create_api_token_prints_a_working_token_once_and_stores_only_its_hash(db):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "Support desk", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("dsr_") and len(token) > 40
    assert "not shown again" in err.getvalue()
    client = ApiClient.objects.get(name="Support desk")
    assert token not in (client.token_hash, client.token_prefix)
    assert api_client_authenticate(token=token) == client


def test_create_api_token_refuses_a_taken_name(db):
    call_command("create_api_token", "Support desk", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_token", "Support desk", stdout=StringIO(), stderr=StringIO())
