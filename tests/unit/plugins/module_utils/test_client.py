# -*- coding: utf-8 -*-
"""Client retry policy and write safety, driven by a scripted transport."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.m365.mailflow.plugins.module_utils import wire
from ansible_collections.m365.mailflow.plugins.module_utils.client import Client
from ansible_collections.m365.mailflow.plugins.module_utils.errors import (
    InvalidParameterError,
    ThrottledError,
    TransientError,
)


class ScriptedTransport(object):
    name = "scripted"

    def __init__(self, responses):
        self.responses = list(responses)
        self.sent = []

    def send(self, cmdlet, parameters, next_link=None):
        self.sent.append((cmdlet, dict(parameters), next_link))
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        pass


def ok(objects=(), warnings=(), next_link=None):
    return wire.json_response(200, wire.success_body(list(objects), warnings=list(warnings), next_link=next_link))


def throttled(retry_after="0.25"):
    return wire.RawResponse(429, {"Retry-After": retry_after}, b"Too many requests")


def unavailable():
    return wire.json_response(503, wire.error_body(503, "Microsoft.Exchange.Data.Directory.ADTransientException", "busy"))


def make(responses, **kwargs):
    sleeps = []
    transport = ScriptedTransport(responses)
    client = Client(transport, sleep=sleeps.append, **kwargs)
    return client, transport, sleeps


def test_read_retries_429_honouring_decimal_retry_after():
    client, transport, sleeps = make([throttled("0.25"), throttled("1.5"), ok([{"Name": "a"}])])
    assert client.invoke("Get-InboundConnector") == [{"Name": "a"}]
    assert sleeps == [0.25, 1.5]
    assert len(transport.sent) == 3


def test_read_backs_off_exponentially_on_503():
    client, transport, sleeps = make([unavailable(), unavailable(), ok()], retry_delay=1.0)
    client.invoke("Get-InboundConnector")
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 1.1 and 2.0 <= sleeps[1] <= 2.2


def test_retries_are_bounded():
    client, transport, sleeps = make([unavailable()] * 3, retries=2, retry_delay=0.01)
    with pytest.raises(TransientError) as exc:
        client.invoke("Get-InboundConnector")
    assert "gave up after 3 attempts" in exc.value.msg
    assert len(transport.sent) == 3


def test_write_throttled_is_resent_because_the_service_did_no_work():
    client, transport, sleeps = make([throttled("0"), ok([{"Name": "x"}])])
    assert client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: False) == [{"Name": "x"}]
    assert [s[0] for s in transport.sent] == ["New-InboundConnector"] * 2


def test_write_not_resent_when_read_back_shows_it_applied():
    client, transport, sleeps = make([unavailable()], retry_delay=0.01)
    checks = []
    result = client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: checks.append(1) or True)
    assert result == [] and checks == [1]
    assert len(transport.sent) == 1


def test_write_resent_when_read_back_shows_it_did_not_apply():
    client, transport, sleeps = make([unavailable(), ok([{"Name": "x"}])], retry_delay=0.01)
    client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: False)
    assert len(transport.sent) == 2


def test_write_without_verify_is_never_resent_after_transient_failure():
    client, transport, sleeps = make([unavailable(), ok()])
    with pytest.raises(TransientError) as exc:
        client.invoke("Set-InboundConnector", {"Identity": "x"}, write=True)
    assert "may or may not have been applied" in exc.value.msg
    assert len(transport.sent) == 1


def test_network_error_on_read_is_retried():
    client, transport, sleeps = make([TransientError("connection reset"), ok([{"Name": "a"}])], retry_delay=0.01)
    assert client.invoke("Get-InboundConnector") == [{"Name": "a"}]


def test_invalid_parameter_is_not_retried():
    body = wire.error_body(400, "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
                           "Parameter set cannot be resolved. Bogus")
    client, transport, sleeps = make([wire.json_response(400, body)])
    with pytest.raises(InvalidParameterError):
        client.invoke("Get-InboundConnector", {"Bogus": 1})
    assert sleeps == [] and len(transport.sent) == 1


def test_paging_follows_next_link_with_same_parameters():
    first = ok([{"Name": "a"}], warnings=[wire.PAGINATION_WARNING], next_link="https://h/next?$skiptoken=1")
    client, transport, sleeps = make([first, ok([{"Name": "b"}])])
    assert [o["Name"] for o in client.invoke("Get-TransportRule", {"ResultSize": "Unlimited"})] == ["a", "b"]
    assert transport.sent[1] == ("Get-TransportRule", {"ResultSize": "Unlimited"}, "https://h/next?$skiptoken=1")
    assert client.warnings == []


def test_service_warnings_are_collected():
    client, transport, sleeps = make([ok(warnings=["overlap with 'Other'"])])
    client.invoke("New-InboundConnector", {"Name": "x"}, write=True)
    assert client.warnings == ["New-InboundConnector: overlap with 'Other'"]


def test_throttled_error_carries_retry_after():
    client, transport, sleeps = make([throttled("2.5")] * 2, retries=0)
    with pytest.raises(ThrottledError) as exc:
        client.invoke("Get-InboundConnector")
    assert "429" in exc.value.msg


def test_non_terminating_errors_of_every_page_are_kept_and_pages_retry():
    first = wire.json_response(200, wire.success_body([{"Name": "a"}], errors=["page one: skipped x"],
                                                      next_link="https://h/next?$skiptoken=1"))
    client, transport, sleeps = make([first, throttled("0.1"), ok([{"Name": "b"}])])
    assert [o["Name"] for o in client.invoke("Get-TransportRule")] == ["a", "b"]
    assert client.warnings == ["Get-TransportRule: page one: skipped x"]
    assert sleeps == [0.1] and transport.sent[2][2] == "https://h/next?$skiptoken=1"


def test_pause_backs_off_within_bounds():
    client, transport, sleeps = make([], retry_delay=1.0, max_retry_wait=3.0)
    for attempt in range(4):
        client.pause(attempt)
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


# ----------------------------------------------------------------------------- bodies that are not a result

def garbled():
    return wire.RawResponse(200, {"Content-Type": "application/json"}, b'{"value": [{"Name": "a", "Sender')


@pytest.mark.parametrize("bad", [b"", b"{}", b"[]", b'{"value": [{"Na'])
def test_read_of_a_200_that_is_not_an_envelope_is_retried_not_taken_as_empty(bad):
    client, transport, sleeps = make([wire.RawResponse(200, {}, bad), ok([{"Name": "a"}])], retry_delay=0.01)
    assert client.invoke("Get-InboundConnector", {"Identity": "a"}) == [{"Name": "a"}]
    assert len(transport.sent) == 2 and len(sleeps) == 1


def test_read_of_malformed_200s_gives_up_with_a_transient_error():
    client, transport, sleeps = make([garbled()] * 3, retries=2, retry_delay=0.01)
    with pytest.raises(TransientError) as exc:
        client.invoke("Get-InboundConnector", {"Identity": "a"})
    assert "not valid JSON" in exc.value.msg and "gave up after 3 attempts" in exc.value.msg


def test_continuation_page_that_is_not_an_envelope_is_retried():
    first = ok([{"Name": "a"}], next_link="https://h/next?$skiptoken=1")
    client, transport, sleeps = make([first, wire.RawResponse(200, {}, b""), ok([{"Name": "b"}])], retry_delay=0.01)
    assert [o["Name"] for o in client.invoke("Get-TransportRule")] == ["a", "b"]
    assert [s[2] for s in transport.sent] == [None, "https://h/next?$skiptoken=1", "https://h/next?$skiptoken=1"]


def test_write_with_a_malformed_200_is_settled_by_reading_back():
    client, transport, sleeps = make([garbled()], retry_delay=0.01)
    checks = []
    result = client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: checks.append(1) or True)
    assert result == [] and checks == [1] and len(transport.sent) == 1  # applied: never sent again


def test_write_with_a_malformed_200_not_applied_is_sent_again():
    client, transport, sleeps = make([wire.RawResponse(200, {}, b"{}"), ok([{"Name": "x"}])], retry_delay=0.01)
    assert client.invoke("New-InboundConnector", {"Name": "x"}, write=True, verify=lambda: False) == [{"Name": "x"}]
    assert len(transport.sent) == 2


def test_write_without_verify_after_a_malformed_200_is_not_resent():
    client, transport, sleeps = make([wire.RawResponse(200, {}, b""), ok()])
    with pytest.raises(TransientError) as exc:
        client.invoke("Set-InboundConnector", {"Identity": "x"}, write=True)
    assert "may or may not have been applied" in exc.value.msg and len(transport.sent) == 1


def test_an_error_already_retried_by_the_token_provider_is_not_retried_again():
    exhausted = TransientError("Cannot get an access token: the token endpoint answered HTTP 500 (gave up after 6 attempts)")
    exhausted.retryable = False
    for write in (False, True):
        checks = []
        client, transport, sleeps = make([exhausted], retry_delay=0.01)
        with pytest.raises(TransientError) as exc:
            client.invoke("New-InboundConnector", {"Name": "x"}, write=write, verify=lambda: checks.append(1))
        assert exc.value is exhausted and sleeps == [] and checks == [] and len(transport.sent) == 1


def duplicate():
    return wire.json_response(400, wire.error_body(
        400, "Microsoft.Exchange.Management.SystemConfigurationTasks.ErrorOutboundConnectorAlreadyExistsException",
        "An outbound connector with the name 'X' already exists."))


def test_refusal_of_a_resent_write_says_an_earlier_attempt_may_have_applied_it():
    """503 after New executed, the read-back misses it (replication), the resend says duplicate: the caller must be
    told that the duplicate may be the first attempt's own doing (engine.ensure reports the create)."""
    from ansible_collections.m365.mailflow.plugins.module_utils.errors import DuplicateError
    client, transport, sleeps = make([unavailable(), duplicate()])
    with pytest.raises(DuplicateError) as exc:
        client.invoke("New-OutboundConnector", {"Name": "X"}, write=True, verify=lambda: False)
    assert exc.value.earlier_attempt and "busy" in exc.value.earlier_attempt


def test_refusal_after_a_throttled_write_is_not_marked():
    """A 429 is refused before any work: a duplicate after it was there before the task."""
    from ansible_collections.m365.mailflow.plugins.module_utils.errors import DuplicateError
    client, transport, sleeps = make([throttled("0"), duplicate()])
    with pytest.raises(DuplicateError) as exc:
        client.invoke("New-OutboundConnector", {"Name": "X"}, write=True, verify=lambda: False)
    assert exc.value.earlier_attempt is None
