"""AUDIT_HMAC_KEYS and WEBHOOK_SECRET_KEYS take one form, parsed in one place."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from adplatform.kernel.key_lists import key_list_parse

SECRET = "s" * 32


def test_pairs_become_keys_in_their_order_around_blanks():
    assert key_list_parse(name="K", value=f" b = {SECRET} ,, a={SECRET}2 ,") == {"b": SECRET, "a": f"{SECRET}2"}
    assert key_list_parse(name="K", value="") == {}


@pytest.mark.parametrize(
    "value",
    [
        f"={SECRET}",  # no id
        f"{'i' * 33}={SECRET}",  # an id too long
        f"a:b={SECRET}",  # ':' separates a stored value's key id
        "a=short",  # a secret too short
        "a",  # no secret
        f"a={SECRET},a={SECRET}x",  # an id twice: one would silently win
    ],
)
def test_a_malformed_pair_is_refused_naming_the_setting_and_not_the_secret(value):
    with pytest.raises(ImproperlyConfigured, match=r"^K: pair \d of \d is malformed; give id=secret pairs") as refused:
        key_list_parse(name="K", value=value)
    assert SECRET not in str(refused.value)
