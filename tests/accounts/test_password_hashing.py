"""How passwords are stored (SPEC ACC-1, OPS-3; accounts/hashers.py): Argon2id with OWASP's parameters,
older PBKDF2 hashes still log in and are upgraded at that login. The suite itself hashes with MD5 for
speed (settings.TESTING), so these tests put production's hashers back."""
import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher, make_password
from django.test import override_settings

from accounts.models import User
from tests.factories import UserFactory

from .test_login import PASSWORD, post_login

pytestmark = pytest.mark.django_db

PRODUCTION_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]


def test_production_settings_list_argon2id_first():
    # The suite's MD5 hasher is TESTING's only: what production lists is checked from the settings file.
    source = (settings.BASE_DIR / "mutualaid" / "settings.py").read_text(encoding="utf-8")
    assert 'PASSWORD_HASHERS = [\n    "accounts.hashers.Argon2idHasher",' in source


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_a_new_password_is_an_argon2id_hash_with_owasps_parameters():
    encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert identify_hasher(encoded).verify(PASSWORD, encoded)
    assert not identify_hasher(encoded).verify("wrong" + PASSWORD, encoded)


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_an_old_pbkdf2_hash_logs_in_and_is_upgraded(client):
    user = UserFactory(username="unit-old", role="unit_admin")
    User.objects.filter(pk=user.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    response = post_login(client, "unit-old", password=PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_a_wrong_password_against_an_old_hash_keeps_it(client):
    user = UserFactory(username="unit-old", role="unit_admin")
    old = make_password(PASSWORD, hasher="pbkdf2_sha256")
    User.objects.filter(pk=user.pk).update(password=old)
    response = post_login(client, "unit-old", password="Wrong#2026")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password == old
